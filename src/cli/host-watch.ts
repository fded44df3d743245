import { leaveClosedPipeToServer } from './run.js';

/**
 * How a server on stdio learns that the client that started it (its host) is gone. A killed host
 * closes its ends of the three pipes: stdin ends, and the next write to stdout or stderr fails with
 * EPIPE. Any of these, or a signal, means: shut down now. A server that kept running would serve
 * no one, hold its locks and, as once happened, spin on failing writes until the disk was full.
 */
export function watchHost(onGone: (reason: string) => void): void {
  leaveClosedPipeToServer();
  process.stdin.on('end', () => onGone('stdin ended: the client closed it or exited'));
  process.stdin.on('close', () => onGone('stdin closed: the client exited'));
  process.stdin.on('error', (error) => onGone(`reading stdin failed (${describe(error)}): the client is gone`));
  process.stdout.on('error', (error) => onGone(`writing to stdout failed (${describe(error)}): the client is gone`));
  process.stderr.on('error', (error) => onGone(`writing to stderr failed (${describe(error)}): the client is gone`));
  watchSignals(onGone);
}

/**
 * SIGINT, SIGTERM and SIGHUP: shut down. All a server over HTTP watches for: it has no host on the
 * other end of its pipes, and keeps serving when stdin closes (started with `nohup` or `&`, say).
 */
export function watchSignals(onSignal: (reason: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => onSignal(`signal ${signal}`));
}

/**
 * Logs uncaught exceptions and unhandled rejections; a stream of them (something failing in a loop)
 * shuts the server down instead of filling the log.
 */
export function surviveUncaught(logger: { error(message: string, data?: Record<string, unknown>): void }, onStorm: (reason: string) => void): void {
  const storm = new ExceptionStorm();
  const uncaught = (what: string, error: unknown) => {
    logger.error(`${what}: ${(error as Error)?.message ?? String(error)}`, { stack: (error as Error)?.stack });
    if (storm.record()) onStorm(`uncaught errors keep coming (the last: ${(error as Error)?.message ?? String(error)})`);
  };
  process.on('uncaughtException', (error) => uncaught('Uncaught exception', error));
  process.on('unhandledRejection', (error) => uncaught('Unhandled rejection', error));
}

function describe(error: NodeJS.ErrnoException): string {
  return error.code ?? error.message;
}

/** How long a shutdown may take before the process exits anyway: a stuck close must not keep it alive. */
export const SHUTDOWN_DEADLINE_MS = 3_000;

/**
 * Counts uncaught exceptions: a handful is logged and survived, a stream of them (something failing
 * in a loop) ends the process instead of filling the log.
 */
export class ExceptionStorm {
  private times: number[] = [];

  constructor(
    private readonly limit = 20,
    private readonly windowMs = 1_000,
  ) {}

  /** Records one; true once more than `limit` happened within `windowMs`. */
  record(now = Date.now()): boolean {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    this.times.push(now);
    return this.times.length > this.limit;
  }
}

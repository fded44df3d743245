import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../app/ports.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/**
 * Set once writing to stderr failed, typically EPIPE because the process reading it (the MCP client) is
 * gone. From then on lines go to the log file only. Without this listener the failure would be an
 * uncaught exception, whose logging would write to stderr again: a loop that never lets the server exit.
 */
let stderrBroken = false;
process.stderr.on('error', () => {
  stderrBroken = true;
});

/** Loggers with lines not written yet: written when the process exits, even by process.exit(). */
const unflushed = new Set<FileLogger>();
process.on('exit', () => {
  for (const logger of unflushed) logger.flush();
});

/**
 * Logs to stderr and to .task_orchestrator/logs/orchestrator.log, never to stdout: stdout is the MCP
 * channel, and one stray line there breaks the client's connection.
 *
 * Lines are queued and written together once the current turn of the event loop is over: a tool call
 * logs what it did just before it answers, and that answer should not wait for two writes (one of
 * which, to stderr, wakes the client's process). The file is appended to with plain synchronous
 * writes, so nothing is left in a stream's buffer when the process exits.
 */
export class FileLogger implements Logger {
  private fd: number | null = null;
  private readonly minimum: number;
  private readonly stderr: boolean;
  private attachedTo: string | null = null;
  private pending: string[] = [];

  constructor(options: { level?: string; stderr?: boolean } = {}) {
    this.minimum = Math.max(0, LEVELS.indexOf((options.level ?? 'info') as Level));
    this.stderr = options.stderr ?? true;
  }

  /** Starts (or moves) the log file; until then lines go to stderr only. Attaching to the same folder again changes nothing. */
  attach(logsDir: string): void {
    if (this.fd !== null && this.attachedTo === path.resolve(logsDir)) return;
    this.flush(); // what was logged so far belongs to the previous file
    this.closeFile();
    mkdirSync(logsDir, { recursive: true });
    this.attachedTo = path.resolve(logsDir);
    try {
      this.fd = openSync(path.join(logsDir, 'orchestrator.log'), 'a');
    } catch {
      this.fd = null; // an unwritable log file must not stop the server: stderr still gets every line
    }
  }

  debug(message: string, data?: Record<string, unknown>): void {
    this.write('debug', message, data);
  }
  info(message: string, data?: Record<string, unknown>): void {
    this.write('info', message, data);
  }
  warn(message: string, data?: Record<string, unknown>): void {
    this.write('warn', message, data);
  }
  error(message: string, data?: Record<string, unknown>): void {
    this.write('error', message, data);
  }

  close(): Promise<void> {
    this.flush();
    this.closeFile();
    return Promise.resolve();
  }

  /** Writes the queued lines now. */
  flush(): void {
    unflushed.delete(this);
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    if (this.stderr && !stderrBroken) process.stderr.write(text);
    if (this.fd === null) return;
    try {
      const bytes = Buffer.from(text);
      for (let written = 0; written < bytes.length; ) written += writeSync(this.fd, bytes, written, bytes.length - written);
    } catch {
      this.closeFile(); // a full disk must not take the server down with it
    }
  }

  private write(level: Level, message: string, data?: Record<string, unknown>): void {
    if (LEVELS.indexOf(level) < this.minimum) return;
    this.pending.push(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [pid ${process.pid}] ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
    if (unflushed.has(this)) return;
    unflushed.add(this);
    setImmediate(() => this.flush());
  }

  private closeFile(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already unusable
    }
    this.fd = null;
  }
}

/** For tests and short-lived tools that want no output at all. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

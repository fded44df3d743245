import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../app/ports.js';
import { LOG_LEVELS, type LogLevel } from '../config.js';
import { escapeControlChars, escapeJsonControlChars } from '../domain/control-chars.js';
import { isCode, openAppendNoFollow, refuseLink } from '../store/file/durable-fs.js';

export const LOG_FILE_NAME = 'orchestrator.log';
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_FILES = 3;

export interface FileLoggerOptions {
  level?: LogLevel;
  /** Also write every line to stderr (the server); the CLI keeps the terminal for its own output. */
  stderr?: boolean;
  /** The log is rotated once it reaches this size (default 10 MB). */
  maxBytes?: number;
  /** Files kept, the live one included: orchestrator.log, orchestrator.log.1, ... (default 3). */
  files?: number;
  /**
   * Write lines once the current turn of the event loop is over (the server): a tool call logs what it
   * did just before it answers, and the answer should not wait for the two writes (about 70 µs, one of
   * them waking the client). Lines still queued are written on close and when the process exits.
   */
  deferred?: boolean;
  /**
   * Encryption at rest is on: what messages quote (titles and values in refusals, "...") is left out of
   * every line, since the log is not encrypted. From the first to the last double quote of a message, so
   * that a quote inside a title leaks nothing either.
   */
  withoutQuotes?: boolean;
}

/**
 * Logs to stderr and to .task_orchestrator/logs/orchestrator.log, never to stdout: stdout is the MCP
 * channel, and one stray line there breaks the client's connection.
 *
 * Logging never throws and never loops: when stderr fails (the client is gone), it is not written to
 * again, or every failure's report would fail in turn; when the file fails (full disk), logging to it
 * stops. Lines are written synchronously, so the last one is in the file even if the process exits
 * right after. Control characters in messages and data are escaped, so no call can forge a log line.
 */
export class FileLogger implements Logger {
  private file: RotatingLog | null = null;
  private attachedTo: string | null = null;
  private readonly minimum: number;
  private readonly stderr: boolean;
  private readonly maxBytes: number;
  private readonly files: number;
  private readonly reported = new Set<string>();
  private readonly deferred: boolean;
  private readonly withoutQuotes: boolean;
  private queued: string[] = [];

  constructor(options: FileLoggerOptions = {}) {
    // Settings are checked when read (config.ts); an unknown level here is a bug, never "log everything".
    this.minimum = LOG_LEVELS.indexOf(options.level ?? 'info');
    if (this.minimum < 0) throw new Error(`Unknown log level "${String(options.level)}"; use ${LOG_LEVELS.join(', ')}.`);
    this.stderr = options.stderr ?? true;
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_MAX_BYTES);
    this.files = Math.max(1, Math.floor(options.files ?? DEFAULT_FILES));
    if (this.stderr) watchStderr();
    this.deferred = options.deferred === true;
    this.withoutQuotes = options.withoutQuotes === true;
    if (this.deferred) flushedOnExit.add(this);
  }

  /**
   * Starts (or moves) the log file; until then lines go to stderr only. Attaching to the same folder
   * again changes nothing. A link in place of the log (or of logs/) is refused, said once on stderr.
   */
  attach(logsDir: string): void {
    const dir = path.resolve(logsDir);
    if (this.attachedTo === dir) return;
    this.flush(); // what was logged so far belongs where the log was
    this.file?.close();
    this.file = null;
    this.attachedTo = dir;
    const file = path.join(dir, LOG_FILE_NAME);
    try {
      refuseLink(dir); // a linked logs/ folder would put the log wherever it points
      mkdirSync(dir, { recursive: true });
      this.file = new RotatingLog(file, this.maxBytes, this.files);
    } catch (error) {
      this.reportOnce(`not writing the log to ${file}: ${(error as Error).message}. ${this.stderr ? 'Logging to stderr only.' : 'The log is not kept.'} ${isCode(error, 'ELOOP') ? 'Remove the link so that the log is written again.' : ''}`.trim());
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

  async close(): Promise<void> {
    this.flush();
    flushedOnExit.delete(this);
    this.file?.close();
    this.file = null;
    this.attachedTo = null;
  }

  private write(level: LogLevel, message: string, data?: Record<string, unknown>): void {
    if (LOG_LEVELS.indexOf(level) < this.minimum) return;
    const line = formatLine(level, this.withoutQuotes ? withoutQuotedText(message) : message, data);
    if (!this.deferred) return this.writeLine(line);
    if (this.queued.push(line) === 1) setImmediate(() => this.flush());
  }

  /** Writes the queued lines now (the exit hook, close and attach call it too). */
  flush(): void {
    const lines = this.queued;
    this.queued = [];
    for (const line of lines) this.writeLine(line);
  }

  private writeLine(line: string): void {
    if (this.stderr) writeStderr(line);
    const file = this.file;
    if (!file) return;
    try {
      if (!file.append(line)) this.reportOnce(`the log ${file.path} cannot be rotated; lines are dropped while it is over twice its size bound`);
    } catch (error) {
      // A full disk must not take the server down with it, nor make it retry every line.
      file.close();
      this.file = null;
      this.reportOnce(`stopped writing the log to ${file.path}: ${(error as Error).message}`);
    }
  }

  /** A problem with the log itself: told once on stderr, which is all that is left to tell it on. */
  private reportOnce(text: string): void {
    if (this.reported.has(text)) return;
    this.reported.add(text);
    writeStderr(`${new Date().toISOString()} WARN  [pid ${process.pid}] task-orchestrator: ${escapeControlChars(text)}\n`);
  }
}

/** Deferred loggers with lines possibly queued: written out when the process exits, however it exits. */
const flushedOnExit = new Set<FileLogger>();
process.on('exit', () => {
  for (const logger of flushedOnExit) logger.flush();
});

function formatLine(level: LogLevel, message: string, data?: Record<string, unknown>): string {
  return `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [pid ${process.pid}] ${escapeControlChars(message)}${data ? ` ${formatData(data)}` : ''}\n`;
}

function formatData(data: Record<string, unknown>): string {
  try {
    return escapeJsonControlChars(JSON.stringify(data) ?? '');
  } catch (error) {
    return `(data not shown: ${escapeControlChars((error as Error).message)})`; // a cycle or a BigInt
  }
}

/**
 * stderr, once a write to it failed: EPIPE means the client that read it is gone. Writing again would
 * fail again, and a failure reported by logging would be the loop that once filled a disk.
 */
let stderrBroken = false;
let watchingStderr = false;

function watchStderr(): void {
  if (watchingStderr) return;
  watchingStderr = true;
  process.stderr.on('error', () => {
    stderrBroken = true;
  });
}

function writeStderr(line: string): void {
  if (stderrBroken || process.stderr.destroyed || !process.stderr.writable) return;
  try {
    process.stderr.write(line);
  } catch {
    stderrBroken = true;
  }
}

/** True once stderr has failed; the server treats that as its client being gone. */
export function stderrFailed(): boolean {
  return stderrBroken;
}

/**
 * An append-only log file rotated by size: orchestrator.log -> .1 -> .2 ..., the oldest dropped, so it
 * never holds more than `files` files of about `maxBytes` each.
 *
 * Several server processes may append to the same log. Each checks the size of the file it has open
 * before every line. The one that sees the bound reached takes an O_EXCL marker, and renames only if
 * the file at the log's name is still the one it has open and still over the bound, so a rotation
 * another process has just made is not repeated; then it (and any process that finds the marker
 * taken, or finds its file renamed away) reopens the log's name. A process whose file was rotated away
 * sees it over the bound before its next line, so it writes no more there. A marker left by a process killed mid-rotation goes stale
 * after a few seconds and is removed; two processes removing it at once can rotate twice, which
 * drops an old file early but loses no ability to write. Should rotation fail for good, lines are
 * dropped while the file is over twice the bound: the log is never unbounded.
 */
class RotatingLog {
  private fd: number;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly files: number,
  ) {
    this.fd = openAppendNoFollow(path);
  }

  /** Appends a line; false when the file is over twice its bound and cannot be rotated, and the line was dropped. */
  append(line: string): boolean {
    if (fstatSync(this.fd).size >= this.maxBytes) {
      this.rotate();
      if (fstatSync(this.fd).size >= 2 * this.maxBytes) return false;
    }
    const bytes = Buffer.from(line);
    for (let written = 0; written < bytes.length; ) written += writeSync(this.fd, bytes, written, bytes.length - written);
    return true;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  private rotate(): void {
    if (this.takeMarker()) {
      try {
        const current = lstatSync(this.path, { throwIfNoEntry: false });
        const open = fstatSync(this.fd);
        if (current?.isFile() && current.ino === open.ino && current.dev === open.dev && current.size >= this.maxBytes) this.shift();
      } catch {
        // a rename failed (another process, a file system that refuses): the size check above retries later
      } finally {
        removeQuietly(this.marker);
      }
    }
    const next = openAppendNoFollow(this.path); // throws on a link put in place meanwhile: logging to the file stops
    this.close();
    this.fd = next;
  }

  /** orchestrator.log.2 is dropped (replaced), .1 becomes .2, the live log becomes .1. */
  private shift(): void {
    if (this.files === 1) return unlinkSync(this.path);
    for (let n = this.files - 1; n >= 1; n--) {
      try {
        renameSync(n === 1 ? this.path : `${this.path}.${n - 1}`, `${this.path}.${n}`);
      } catch (error) {
        if (!isCode(error, 'ENOENT')) throw error;
      }
    }
  }

  private get marker(): string {
    return `${this.path}.rotating`;
  }

  private takeMarker(): boolean {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        closeSync(openSync(this.marker, 'wx')); // O_EXCL: fails on anything in its place, a link included
        return true;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) return false;
        const age = Date.now() - (lstatSync(this.marker, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
        if (age < STALE_MARKER_MS) return false; // another process is rotating right now
        removeQuietly(this.marker);
      }
    }
    return false;
  }
}

/** A rotation takes microseconds; a marker this old was left by a process killed in the middle of one. */
const STALE_MARKER_MS = 5_000;

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone already
  }
}

/** For tests and short-lived tools that want no output at all. */
/** The message with everything from its first to its last double quote replaced by "…". */
export function withoutQuotedText(message: string): string {
  const first = message.indexOf('"');
  const last = message.lastIndexOf('"');
  if (first === -1) return message;
  return last === first ? `${message.slice(0, first)}"…` : `${message.slice(0, first)}"…"${message.slice(last + 1)}`;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

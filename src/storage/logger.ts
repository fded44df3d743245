import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../app/ports.js';
import { LOG_LEVELS, type LogLevel } from '../config.js';

/**
 * Logs to stderr and to .task_orchestrator/logs/orchestrator.log, never to stdout: stdout is the MCP
 * channel, and one stray line there breaks the client's connection.
 */
export class FileLogger implements Logger {
  private file: WriteStream | null = null;
  private readonly minimum: number;

  constructor(options: { level?: LogLevel; stderr?: boolean } = {}) {
    // Settings are checked when read (config.ts); an unknown level here is a bug, never "log everything".
    this.minimum = LOG_LEVELS.indexOf(options.level ?? 'info');
    if (this.minimum < 0) throw new Error(`Unknown log level "${String(options.level)}"; use ${LOG_LEVELS.join(', ')}.`);
    this.stderr = options.stderr ?? true;
  }

  private readonly stderr: boolean;

  private attachedTo: string | null = null;

  /** Starts (or moves) the log file; until then lines go to stderr only. Attaching to the same folder again changes nothing. */
  attach(logsDir: string): void {
    if (this.file && this.attachedTo === path.resolve(logsDir)) return;
    this.file?.end();
    this.file = null;
    mkdirSync(logsDir, { recursive: true });
    this.attachedTo = path.resolve(logsDir);
    this.file = createWriteStream(path.join(logsDir, 'orchestrator.log'), { flags: 'a' });
    this.file.on('error', () => {
      this.file = null; // a full disk must not take the server down with it
    });
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
    const file = this.file;
    this.file = null;
    return new Promise((resolve) => (file ? file.end(resolve) : resolve()));
  }

  private write(level: LogLevel, message: string, data?: Record<string, unknown>): void {
    if (LOG_LEVELS.indexOf(level) < this.minimum) return;
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [pid ${process.pid}] ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`;
    if (this.stderr) process.stderr.write(line);
    this.file?.write(line);
  }
}

/** For tests and short-lived tools that want no output at all. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

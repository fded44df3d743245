import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../app/ports.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/**
 * Logs to stderr and to .task_orchestrator/logs/orchestrator.log, never to stdout: stdout is the MCP
 * channel, and one stray line there breaks the client's connection.
 */
export class FileLogger implements Logger {
  private file: WriteStream | null = null;
  private readonly minimum: number;

  constructor(options: { level?: string; stderr?: boolean } = {}) {
    this.minimum = Math.max(0, LEVELS.indexOf((options.level ?? 'info') as Level));
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

  private write(level: Level, message: string, data?: Record<string, unknown>): void {
    if (LEVELS.indexOf(level) < this.minimum) return;
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [pid ${process.pid}] ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`;
    if (this.stderr) process.stderr.write(line);
    this.file?.write(line);
  }
}

/** For tests and short-lived tools that want no output at all. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

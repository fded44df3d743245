import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { readSettings, resolveBaseDir, type Settings } from '../config.js';
import { OrchestratorError } from '../domain/errors.js';
import { layoutFor, type Layout } from '../storage/layout.js';
import { FileLogger } from '../storage/logger.js';
import { openProject, type OpenProject } from '../storage/open-project.js';

/** Exit codes of every command (docs/cli.md, "Exit codes"). */
export const EXIT = {
  /** Done; for doctor: healthy. */
  OK: 0,
  /** The command ran and found or left problems, or an operation failed. */
  PROBLEMS: 1,
  /** The command line was wrong: unknown option or client, bad duration or id, no project folder. */
  USAGE: 2,
} as const;

/** A mistake in how the command was called: reported on stderr with exit code 2. */
export class UsageError extends Error {}

export interface BaseOptions {
  baseDir?: string;
}

export const BASE_DIR_HELP = 'project folder holding .task_orchestrator/ (default: MCP_TASK_ORCHESTRATOR_BASE_DIR, else the current folder)';

/** This installation's server, run by the Node that runs this command: works without a global install or PATH. */
export function serveLaunch(): { command: string; args: string[] } {
  return { command: process.execPath, args: [fileURLToPath(new URL('./main.js', import.meta.url)), 'serve'] };
}

export function settingsFor(options: BaseOptions): Settings {
  return readSettings(options.baseDir ? { ...process.env, MCP_TASK_ORCHESTRATOR_BASE_DIR: options.baseDir } : process.env);
}

export function layoutOf(options: BaseOptions): { settings: Settings; layout: Layout } {
  const settings = settingsFor(options);
  return { settings, layout: layoutFor(projectDir(settings), settings.configDir ?? undefined) };
}

/** The project folder: it must exist, so that a mistyped --base-dir is not taken for an empty project. */
export function projectDir(settings: Settings): string {
  const baseDir = resolveBaseDir(settings);
  if (!baseDir) throw new UsageError(`${process.cwd()} is not a usable project folder. Run this in the project, or pass --base-dir.`);
  if (!statSync(baseDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`the project folder ${baseDir} does not exist.`);
  return baseDir;
}

export async function storeExists(layout: Layout): Promise<boolean> {
  return (await stat(layout.root).catch(() => null))?.isDirectory() === true;
}

/**
 * Opens the project's store the way the server does (same locks, same index), runs `work` and closes
 * it. Logs go to .task_orchestrator/logs/, never to the terminal. `recover: false` leaves interrupted
 * work for the server or "doctor --fix", so that reading commands change nothing.
 */
export async function withProject<T>(settings: Settings, layout: Layout, options: { recover: boolean }, work: (project: OpenProject) => Promise<T>): Promise<T> {
  const logger = new FileLogger({ level: settings.logLevel, stderr: false });
  const project = await openProject(layout.base, settings, logger, { recover: options.recover }).catch(async (error: unknown) => {
    await logger.close();
    throw error;
  });
  try {
    return await work(project);
  } finally {
    await project.close();
    await logger.close();
  }
}

/** `task-orchestrator status | head` closes stdout early: stop quietly instead of crashing on EPIPE. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
    throw error;
  });
}

/** Runs a command's action: its exit code, or an error on stderr with a non-zero exit code. */
export async function runCommand(action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exitCode = exitCodeOf(error);
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof OrchestratorError && (error.code === 'INVALID_TASK_ID' || error.code === 'INVALID_INPUT')) return EXIT.USAGE;
  return EXIT.PROBLEMS;
}

export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A line for the person on stderr: warnings and failures that are not the command's output. */
export function warn(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

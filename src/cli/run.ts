import { isDirectory } from '../store/file/durable-fs.js';
import { chooseProjectFolder, DATABASE_URL, encryptionConfigured, InvalidSettingError, readSettings, type Settings } from '../config.js';
import { escapeJsonControlChars } from '../domain/control-chars.js';
import { OrchestratorError } from '../domain/errors.js';
import { layoutFor, type Layout } from '../store/file/layout.js';
import { FileLogger } from '../logging/logger.js';
import { openProject, type OpenProject } from '../compose/open-project.js';
import { printable } from './format.js';

/** Exit codes of every command (docs/cli.md, "Exit codes"). */
export const EXIT = {
  /** Done; for doctor: healthy. */
  OK: 0,
  /** The command ran and found or left problems, or an operation failed. */
  PROBLEMS: 1,
  /** The command line was wrong: unknown option or client, bad duration or id, no project folder, an invalid setting. */
  USAGE: 2,
} as const;

/** A mistake in how the command was called: reported on stderr with exit code 2. */
export class UsageError extends Error {}

export interface BaseOptions {
  baseDir?: string;
  /** --database-url: team mode, in place of MCP_TASK_ORCHESTRATOR_DATABASE_URL. */
  databaseUrl?: string;
}

export const BASE_DIR_HELP = 'project folder holding .task_orchestrator/ (default: MCP_TASK_ORCHESTRATOR_BASE_DIR, else the current folder)';

export const DATABASE_URL_HELP = 'keep the tasks in this PostgreSQL database (team mode; default: MCP_TASK_ORCHESTRATOR_DATABASE_URL, which keeps the password out of the process list)';

/**
 * The settings, with --base-dir and --database-url in place of MCP_TASK_ORCHESTRATOR_BASE_DIR and
 * MCP_TASK_ORCHESTRATOR_DATABASE_URL; an invalid setting is a usage error.
 */
export function settingsFor(options: BaseOptions): Settings {
  const env = { ...process.env };
  if (options.baseDir) env.MCP_TASK_ORCHESTRATOR_BASE_DIR = options.baseDir;
  if (options.databaseUrl) env[DATABASE_URL] = options.databaseUrl;
  let settings: Settings;
  try {
    settings = readSettings(env);
  } catch (error) {
    // The option's own name in the message, so that the person finds what to correct.
    if (error instanceof InvalidSettingError && options.databaseUrl) throw new InvalidSettingError(error.message.replace(`${DATABASE_URL} is`, '--database-url is'));
    throw error;
  }
  if (options.baseDir) settings = { ...settings, baseDirOrigin: '--base-dir' };
  if (options.databaseUrl) settings = { ...settings, databaseUrlOrigin: '--database-url' };
  return settings;
}

export function layoutOf(options: BaseOptions): { settings: Settings; layout: Layout } {
  const settings = settingsFor(options);
  return { settings, layout: layoutFor(projectDir(settings), settings.configDir ?? undefined) };
}

/**
 * The project folder. One that cannot be used (config.ts, projectDirProblem) is a usage error, so that
 * a mistyped --base-dir is not taken for an empty project, and nothing is created in "/" or at home.
 */
export function projectDir(settings: Settings): string {
  const folder = chooseProjectFolder(settings);
  if (!folder.problem) return folder.dir;
  if (settings.baseDirFromEnv) throw new UsageError(`the project folder ${folder.dir} (${folder.origin}) cannot be used: ${folder.problem}. Pass the project's folder.`);
  throw new UsageError(`the current folder ${folder.dir} cannot be a project folder: ${folder.problem}. Run this in the project, or pass --base-dir.`);
}

export async function storeExists(layout: Layout): Promise<boolean> {
  return isDirectory(layout.root);
}

/**
 * Opens the project's store the way the server does (same locks, same index), runs `work` and closes
 * it. Logs go to .task_orchestrator/logs/, never to the terminal. `recover: false` leaves interrupted
 * work for the server or "doctor --fix", so that reading commands change nothing.
 */
export async function withProject<T>(settings: Settings, layout: Layout, options: { recover: boolean }, work: (project: OpenProject) => Promise<T>): Promise<T> {
  const logger = new FileLogger({ level: settings.logLevel, stderr: false , withoutQuotes: encryptionConfigured(settings) });
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
  process.stdout.on('error', exitOnClosedPipe);
}

/** The server takes a closed stdout over: it logs why it stops before it exits (src/cli/host-watch.ts). */
export function leaveClosedPipeToServer(): void {
  process.stdout.off('error', exitOnClosedPipe);
}

function exitOnClosedPipe(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
  throw error;
}

/** Runs a command's action: its exit code, or an error on stderr with a non-zero exit code. */
export async function runCommand(action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (error) {
    process.stderr.write(`error: ${printable((error as Error).message)}\n`);
    process.exitCode = exitCodeOf(error);
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof InvalidSettingError) return EXIT.USAGE;
  if (error instanceof OrchestratorError && (error.code === 'INVALID_TASK_ID' || error.code === 'INVALID_INPUT')) return EXIT.USAGE;
  return EXIT.PROBLEMS;
}

/** A line for the person on stdout. Values from files go through printable() first (src/cli/format.ts). */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A line for the person on stderr: warnings and failures that are not the command's output. */
export function warn(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** JSON escapes ESC and the other C0 controls itself; DEL, C1 and the bidi controls are escaped too. */
export function printJson(value: unknown): void {
  process.stdout.write(`${escapeJsonControlChars(JSON.stringify(value, null, 2))}\n`);
}

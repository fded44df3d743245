import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Settings read from the environment (documented in the README, "Configuration"). */
export interface Settings {
  /** MCP_TASK_ORCHESTRATOR_BASE_DIR: fixes the project folder; working_directory cannot move it. */
  baseDirFromEnv: string | null;
  /** MCP_TASK_ORCHESTRATOR_CONFIG_DIR: where role files are read from (default .task_orchestrator/roles/). */
  configDir: string | null;
  /** MCP_TASK_ORCHESTRATOR_LOG_LEVEL: debug, info (default), warn or error. */
  logLevel: string;
  /** MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: how long to wait for a busy task before LOCK_TIMEOUT (default 10000). */
  lockTimeoutMs: number;
  /** MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS: another host's lock not refreshed for this long may be taken over (default 30000, at most 1 hour). */
  lockStaleMs: number;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    baseDirFromEnv: nonEmpty(env.MCP_TASK_ORCHESTRATOR_BASE_DIR),
    configDir: nonEmpty(env.MCP_TASK_ORCHESTRATOR_CONFIG_DIR),
    logLevel: nonEmpty(env.MCP_TASK_ORCHESTRATOR_LOG_LEVEL) ?? 'info',
    lockTimeoutMs: positiveNumber(env.MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS, 10_000),
    lockStaleMs: Math.min(positiveNumber(env.MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS, 30_000), 3_600_000),
  };
}

/** The folder this package is installed in: never used as a project folder. */
export const INSTALL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The project folder: the environment variable, else the working directory the client started us in,
 * unless that is the file-system root, the install folder or not writable (Claude Desktop starts
 * servers in "/"); then null, and the assistant must pass working_directory.
 */
export function resolveBaseDir(settings: Settings, cwd: string = process.cwd()): string | null {
  if (settings.baseDirFromEnv) return path.resolve(settings.baseDirFromEnv);
  const dir = path.resolve(cwd);
  return projectDirProblem(dir) ? null : dir;
}

/** Why a folder cannot be a project folder (root, the install folder, missing, not writable), or null. */
export function projectDirProblem(dir: string): string | null {
  if (dir === path.parse(dir).root) return 'it is the root of the file system';
  if (dir === INSTALL_DIR || dir.startsWith(`${INSTALL_DIR}${path.sep}`)) return 'it is the folder task-orchestrator is installed in';
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return 'no such folder';
  try {
    accessSync(dir, constants.W_OK);
    return null;
  } catch {
    return 'it is not writable';
  }
}

function nonEmpty(value: string | undefined): string | null {
  return value && value.trim() ? value.trim() : null;
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : fallback;
}

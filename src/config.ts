import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_STALE_MS } from './store/file/lock.js';
import { databaseUrlProblem, redactDatabaseUrl } from './store/postgres/database-url.js';
import { NO_KEYS, type Keyring } from './safety/encryption.js';
import { loadKeyring } from './safety/key-source.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A numeric setting: its default and the values accepted (README, "Configuration"). */
export interface Bounds {
  default: number;
  min: number;
  max: number;
}

/** A duration setting's bounds, in milliseconds unless the setting says seconds. */
export type DurationBounds = Bounds;

/** A wait shorter than 0.1 s fails on any busy task; longer than 10 min outlasts every client's call timeout. */
export const LOCK_TIMEOUT_BOUNDS: DurationBounds = { default: 10_000, min: 100, max: 600_000 };
/**
 * Holders refresh their lock every stale/4 (at most every 5 s). Another host judges that refresh by its
 * own clock, so the bound must leave room for the clock difference between hosts: 5 s at the least.
 * The spec's 1 hour is the upper bound.
 */
export const LOCK_STALE_BOUNDS: DurationBounds = { default: 30_000, min: 5_000, max: MAX_STALE_MS };
/**
 * A subtask lease, in seconds (the unit people think of it in). 15 min covers a specialist's step
 * between two calls; 1 s makes expiry testable; a day at most, so an agent that vanished frees its
 * subtask the same day.
 */
export const LEASE_SECONDS_BOUNDS: DurationBounds = { default: 900, min: 1, max: 86_400 };
/** Connections each server keeps to the database at most: one per tool call that runs at the same time. */
export const DB_POOL_SIZE_BOUNDS: DurationBounds = { default: 10, min: 1, max: 100 };
/**
 * How long one SQL statement may run before the database cancels it (STORAGE_UNAVAILABLE). Every
 * statement here touches a row or a few: 15 s is a database in trouble, not a slow query.
 */
export const DB_STATEMENT_TIMEOUT_BOUNDS: DurationBounds = { default: 15_000, min: 100, max: 600_000 };

/** Settings read from the environment (documented in the README, "Configuration"). */
export interface Settings {
  /** MCP_TASK_ORCHESTRATOR_BASE_DIR (or --base-dir): fixes the project folder; working_directory cannot move it. */
  baseDirFromEnv: string | null;
  /** Where baseDirFromEnv came from, for messages: the variable's name or "--base-dir". */
  baseDirOrigin: string;
  /** MCP_TASK_ORCHESTRATOR_CONFIG_DIR: where role files are read from (default .task_orchestrator/roles/). */
  configDir: string | null;
  /** MCP_TASK_ORCHESTRATOR_LOG_LEVEL: debug, info (default), warn or error, in any case. */
  logLevel: LogLevel;
  /** MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: how long to wait for a busy task before LOCK_TIMEOUT. */
  lockTimeoutMs: number;
  /** MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS: a lock whose owner cannot be asked (another host or PID namespace) not refreshed for this long may be taken over. */
  lockStaleMs: number;
  /** MCP_TASK_ORCHESTRATOR_LEASE_SECONDS: how long execute_subtask gives a subtask to one agent, in ms. */
  leaseMs: number;
  /** MCP_TASK_ORCHESTRATOR_DATABASE_URL (or --database-url): team mode, every task in this PostgreSQL database; null: the file store. */
  databaseUrl: string | null;
  /** Where databaseUrl came from, for messages: the variable's name or "--database-url". */
  databaseUrlOrigin: string;
  /** MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE: connections to the database at most. */
  dbPoolSize: number;
  /** MCP_TASK_ORCHESTRATOR_DB_STATEMENT_TIMEOUT_MS: how long one statement may run. */
  dbStatementTimeoutMs: number;
  /**
   * MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE (or _ENCRYPTION_KEY) and _ENCRYPTION_PREVIOUS_KEY_FILES: the
   * keys tasks are encrypted with at rest, read once at start; no current key: stored in clear.
   */
  keyring: Keyring;
  /** What loading the keys found that does not stop the server (a key file others can read): logged at start. */
  keyWarnings: string[];
}

/** A setting with a value it cannot take: the message names the variable, the value and what is allowed. */
export class InvalidSettingError extends Error {
  override readonly name = 'InvalidSettingError';
}

/**
 * Reads the settings; an empty variable counts as unset. An invalid value is refused (every one of them
 * in one message) rather than replaced by the default, so that a typo does not go unnoticed.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const settings: Settings = {
    baseDirFromEnv: nonEmpty(env.MCP_TASK_ORCHESTRATOR_BASE_DIR),
    baseDirOrigin: 'MCP_TASK_ORCHESTRATOR_BASE_DIR',
    configDir: nonEmpty(env.MCP_TASK_ORCHESTRATOR_CONFIG_DIR),
    logLevel: logLevelOf(env, problems),
    lockTimeoutMs: durationOf(env, 'MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS', LOCK_TIMEOUT_BOUNDS, problems),
    lockStaleMs: durationOf(env, 'MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS', LOCK_STALE_BOUNDS, problems),
    leaseMs: durationOf(env, 'MCP_TASK_ORCHESTRATOR_LEASE_SECONDS', LEASE_SECONDS_BOUNDS, problems, 'seconds') * 1_000,
    databaseUrl: databaseUrlOf(env, problems),
    databaseUrlOrigin: DATABASE_URL,
    dbPoolSize: durationOf(env, 'MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE', DB_POOL_SIZE_BOUNDS, problems, 'connections'),
    dbStatementTimeoutMs: durationOf(env, 'MCP_TASK_ORCHESTRATOR_DB_STATEMENT_TIMEOUT_MS', DB_STATEMENT_TIMEOUT_BOUNDS, problems),
    ...keysOf(env, problems),
  };
  if (problems.length) throw new InvalidSettingError(problems.join('\n'));
  return settings;
}

/** Whether any encryption key is configured: then logs leave out what messages quote (FileLogger's withoutQuotes). */
export function encryptionConfigured(settings: Settings): boolean {
  return settings.keyring.current !== null || settings.keyring.previous.length > 0;
}

/** The encryption keys; a key that cannot be used is one more problem, refused with the others. */
function keysOf(env: NodeJS.ProcessEnv, problems: string[]): { keyring: Keyring; keyWarnings: string[] } {
  try {
    const loaded = loadKeyring(env);
    return { keyring: loaded.keyring, keyWarnings: loaded.warnings };
  } catch (error) {
    if (!(error instanceof InvalidSettingError)) throw error;
    problems.push(error.message);
    return { keyring: NO_KEYS, keyWarnings: [] };
  }
}

function logLevelOf(env: NodeJS.ProcessEnv, problems: string[]): LogLevel {
  const name = 'MCP_TASK_ORCHESTRATOR_LOG_LEVEL';
  const value = nonEmpty(env[name]);
  if (value === null) return 'info';
  const lower = value.toLowerCase();
  const level = lower === 'warning' ? 'warn' : LOG_LEVELS.find((l) => l === lower); // "warning": Python's name for it
  if (level) return level;
  problems.push(`${name} is ${quote(value)}: use ${LOG_LEVELS.slice(0, -1).join(', ')} or ${LOG_LEVELS.at(-1)} (any case), or leave it unset for info.`);
  return 'info';
}

export const DATABASE_URL = 'MCP_TASK_ORCHESTRATOR_DATABASE_URL';

/** A postgres:// URL, or null for the file store. Refused values are shown with their password hidden. */
function databaseUrlOf(env: NodeJS.ProcessEnv, problems: string[]): string | null {
  const value = nonEmpty(env[DATABASE_URL]);
  if (value === null) return null;
  const problem = databaseUrlProblem(value);
  if (problem === null) return value;
  problems.push(`${DATABASE_URL} is ${quote(redactDatabaseUrl(value))}: ${problem}. Use postgres://user:password@host:5432/database (sslmode=verify-full in the query for TLS), or leave it unset to keep the tasks in .task_orchestrator/.`);
  return null;
}

/** A whole number of `unit` within the bounds (given in that unit); durations in words, counts as they are. */
function durationOf(env: NodeJS.ProcessEnv, name: string, bounds: DurationBounds, problems: string[], unit: 'milliseconds' | 'seconds' | 'connections' = 'milliseconds'): number {
  const value = nonEmpty(env[name]);
  if (value === null) return bounds.default;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (n >= bounds.min && n <= bounds.max) return n;
  const ms = unit === 'seconds' ? 1_000 : 1;
  const range = unit === 'connections' ? `from ${bounds.min} to ${bounds.max}` : `from ${bounds.min} (${inWords(bounds.min * ms)}) to ${bounds.max} (${inWords(bounds.max * ms)})`;
  problems.push(`${name} is ${quote(value)}: use a whole number of ${unit} ${range}, or leave it unset for ${bounds.default}.`);
  return bounds.default;
}

/** `serve --http`: the port when --port is not given (README, "One server for many clients"). */
export const DEFAULT_HTTP_PORT = 8808;
/** A token shorter than this is refused for a server reachable from other machines (a non-loopback --host). */
export const MIN_REMOTE_TOKEN_LENGTH = 32;
/** A session unused this long is closed: 30 min outlasts a specialist's step between two calls; 1 s makes expiry testable. */
export const HTTP_IDLE_SECONDS_BOUNDS: DurationBounds = { default: 1_800, min: 1, max: 86_400 };
/** 10 MiB: the bound the stdio transport and clients put on one message; the tools' own text limits stay well below it. */
export const HTTP_MAX_BODY_BYTES_BOUNDS: Bounds = { default: 10 * 1024 * 1024, min: 1_024, max: 100 * 1024 * 1024 };
/** Sessions open at once: twice the 50 clients the server is tested with. */
export const HTTP_MAX_SESSIONS_BOUNDS: Bounds = { default: 100, min: 1, max: 10_000 };
/** Calls one session may have waiting for their replies: an assistant makes one at a time, a script a few. */
export const HTTP_MAX_CALLS_BOUNDS: Bounds = { default: 8, min: 1, max: 1_000 };

/** Settings of `serve --http` only, read from the environment (README, "One server for many clients"). */
export interface HttpSettings {
  /** MCP_TASK_ORCHESTRATOR_HTTP_TOKEN: the bearer token every request must carry; null: the token file's. */
  token: string | null;
  /** MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS, in ms: a session with no request for this long is closed. */
  idleMs: number;
  /** MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES: a larger request body is refused with 413. */
  maxBodyBytes: number;
  /** MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS: one more initialize is refused with 503. */
  maxSessions: number;
  /** MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION: one more call in flight in a session is refused with 429. */
  maxCallsPerSession: number;
}

export const HTTP_TOKEN_VARIABLE = 'MCP_TASK_ORCHESTRATOR_HTTP_TOKEN';

/** Reads the HTTP settings with the same strictness as readSettings: every invalid value in one message. */
export function readHttpSettings(env: NodeJS.ProcessEnv = process.env): HttpSettings {
  const problems: string[] = [];
  const settings: HttpSettings = {
    token: tokenOf(env, problems),
    idleMs: durationOf(env, 'MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS', HTTP_IDLE_SECONDS_BOUNDS, problems, 'seconds') * 1_000,
    maxBodyBytes: countOf(env, 'MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES', HTTP_MAX_BODY_BYTES_BOUNDS, 'bytes', problems),
    maxSessions: countOf(env, 'MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS', HTTP_MAX_SESSIONS_BOUNDS, 'sessions', problems),
    maxCallsPerSession: countOf(env, 'MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION', HTTP_MAX_CALLS_BOUNDS, 'calls', problems),
  };
  if (problems.length) throw new InvalidSettingError(problems.join('\n'));
  return settings;
}

/**
 * The token as it will travel in `Authorization: Bearer <token>`: visible ASCII without spaces (what
 * a header carries unaltered). Its value never appears in a message, only its length.
 */
function tokenOf(env: NodeJS.ProcessEnv, problems: string[]): string | null {
  const value = env[HTTP_TOKEN_VARIABLE];
  if (value === undefined || value === '') return null;
  if (/^[\x21-\x7e]+$/.test(value)) return value;
  problems.push(`${HTTP_TOKEN_VARIABLE} holds spaces, control or non-ASCII characters (${value.length} characters; its value is not shown): use letters, digits and punctuation only, at least ${MIN_REMOTE_TOKEN_LENGTH} of them (e.g. the output of "openssl rand -base64 32"), or leave it unset to use the generated token file.`);
  return null;
}

/** A whole number of `unit` within the bounds. */
function countOf(env: NodeJS.ProcessEnv, name: string, bounds: Bounds, unit: string, problems: string[]): number {
  const value = nonEmpty(env[name]);
  if (value === null) return bounds.default;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (n >= bounds.min && n <= bounds.max) return n;
  problems.push(`${name} is ${quote(value)}: use a whole number of ${unit} from ${bounds.min} to ${bounds.max}, or leave it unset for ${bounds.default}.`);
  return bounds.default;
}

/** The folder this package is installed in: never used as a project folder. */
export const INSTALL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folder the tasks live in, where that choice comes from, and why it cannot be used (null when it can). */
export interface ProjectFolder {
  dir: string;
  /** "MCP_TASK_ORCHESTRATOR_BASE_DIR", "--base-dir" or "the working directory". */
  origin: string;
  problem: string | null;
}

/** The project folder: the variable (or --base-dir), else the working directory the client started us in. */
export function chooseProjectFolder(settings: Settings, cwd: string = process.cwd()): ProjectFolder {
  if (settings.baseDirFromEnv) {
    const dir = path.resolve(settings.baseDirFromEnv);
    return { dir, origin: settings.baseDirOrigin, problem: projectDirProblem(dir, { named: true }) };
  }
  const dir = path.resolve(cwd);
  return { dir, origin: 'the working directory', problem: projectDirProblem(dir) };
}

/**
 * Why a folder cannot be a project folder, or null. Refused: the file-system root and the home folder
 * itself (clients such as Claude Desktop start servers there), anything that is not an existing folder,
 * a read-only folder with no .task_orchestrator/ to read, and the install folder, unless a person
 * `named` it (MCP_TASK_ORCHESTRATOR_BASE_DIR or --base-dir: a checkout of task-orchestrator working on
 * itself; a client or an assistant landing there by chance would lose the tasks to the next update).
 * A read-only folder with a .task_orchestrator/ is usable: the store opens read-only. Symbolic links
 * are resolved first, so that a link cannot lead past these checks.
 */
export function projectDirProblem(dir: string, options: { named?: boolean } = {}): string | null {
  if (dir.includes('\0')) return 'the path contains a NUL character';
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (error) {
    return unreachable(error as NodeJS.ErrnoException);
  }
  if (real === path.parse(real).root) return 'it is the root of the file system';
  if (real === realPathOrNull(os.homedir())) return 'it is the home folder itself, not a project in it';
  const install = realPathOrNull(INSTALL_DIR) ?? INSTALL_DIR;
  if (!options.named && (real === install || real.startsWith(`${install}${path.sep}`))) return 'it is the folder task-orchestrator is installed in';
  const info = statSync(real);
  if (!info.isDirectory()) return info.isFile() ? 'it is a file, not a folder' : 'it is not a folder';
  if (!isWritable(real) && !statSync(path.join(real, '.task_orchestrator'), { throwIfNoEntry: false })?.isDirectory()) {
    return 'it is read-only and holds no .task_orchestrator/ folder to read';
  }
  return null;
}

export function isWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function unreachable(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return 'it does not exist';
  if (error.code === 'EACCES') return 'it cannot be reached (permission denied)';
  if (error.code === 'ELOOP') return 'its symbolic links form a loop';
  return `it cannot be reached (${error.code ?? error.message})`;
}

function realPathOrNull(dir: string): string | null {
  try {
    return realpathSync(dir);
  } catch {
    return null;
  }
}

function nonEmpty(value: string | undefined): string | null {
  return value && value.trim() ? value.trim() : null;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

/** 100 -> "0.1 s", 600000 -> "10 min", 3600000 -> "1 h": the bounds in words a person reads at a glance. */
function inWords(ms: number): string {
  if (ms < 60_000) return `${ms / 1_000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}

import { OrchestratorError } from '../../domain/errors.js';
import { redactDatabaseUrl, withoutPassword } from './database-url.js';

/**
 * What the driver's failures mean for a tool call. Two families: the server answered with an SQLSTATE
 * (the statement failed, the transaction is rolled back: nothing changed), or no answer came (refused,
 * reset, timed out): then the call is STORAGE_UNAVAILABLE, and if the answer that did not come was the
 * one to COMMIT, nobody knows whether the change is stored, and the refusal says so.
 */

/** The SQLSTATE of an error the server sent, or null for one that arose in this process or the network. */
export function sqlState(error: unknown): string | null {
  const e = error as { code?: unknown; severity?: unknown } | null;
  return e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string' ? e.code : null;
}

/** Server codes that mean the session is gone or cannot start: the database restarts, is full of connections, ... */
const SESSION_LOST = new Set(['57P01', '57P02', '57P03', '57P05', '25P03', '53300']);

/** The driver's own words for a connection that failed, timed out or was closed under a query. */
const DRIVER_CONNECTION_FAILURES = [/^Connection terminated/, /timeout exceeded when trying to connect/, /^Query read timeout/, /is not queryable/, /^Cannot use a pool after calling end/];

/** True when the database could not be reached or the connection was lost: the statement got no answer. */
export function isConnectionFailure(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== null) return state.startsWith('08') || SESSION_LOST.has(state);
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, EPIPE, ...
  const message = (error as Error | null)?.message ?? '';
  return DRIVER_CONNECTION_FAILURES.some((pattern) => pattern.test(message));
}

/** An error the database or the connection to it raised (not one of the caller's own code). */
export function isDatabaseFailure(error: unknown): boolean {
  return sqlState(error) !== null || isConnectionFailure(error);
}

/**
 * A connection that failed at once (reset, closed, terminated by a restart): another connection may
 * well work. Not a timeout: a database that does not answer would only be waited for again.
 */
export function isDeadConnection(error: unknown): boolean {
  if (!isConnectionFailure(error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message ?? '';
  return code !== 'ETIMEDOUT' && !/timeout/i.test(message);
}

/** Serialization failure and deadlock: the server rolled the transaction back, and running it again is the cure. */
export function isTransientConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01';
}

export type Outcome = 'not_changed' | 'unknown';

/** What was being done, for messages ("change task X", "read task X", "connect"). */
export interface FailureContext {
  url: string;
  what: string;
  outcome: Outcome;
  /** The lock wait this server allows (MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS), for LOCK_TIMEOUT. */
  lockTimeoutMs?: number;
  /** The statement timeout (MCP_TASK_ORCHESTRATOR_DB_STATEMENT_TIMEOUT_MS), for its refusal. */
  statementTimeoutMs?: number;
  parentTaskId?: string;
}

/** The OrchestratorError a tool returns for a failure of the database; OrchestratorErrors pass through. */
export function databaseError(error: unknown, context: FailureContext): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const database = redactDatabaseUrl(context.url);
  const cause = withoutPassword(describe(error), context.url);
  const state = sqlState(error);
  const data = { database, sqlstate: state, outcome: context.outcome, ...(context.parentTaskId ? { parent_task_id: context.parentTaskId } : {}) };
  if (context.outcome === 'unknown' && isConnectionFailure(error)) {
    return new OrchestratorError('STORAGE_UNAVAILABLE', `The connection to the database ${database} was lost while the change was being committed (${cause}), so it may or may not be stored. Call again with the same idempotency_key (a retry that cannot apply it twice), or check with orchestrator_get_status first; the server reconnects on its own.`, { ...data, retryable: true });
  }
  if (isConnectionFailure(error)) {
    return new OrchestratorError('STORAGE_UNAVAILABLE', `The database ${database} cannot be reached (${cause}) to ${context.what}. Nothing was changed. Check that PostgreSQL runs and accepts connections there (and the network to it), then call again: the server reconnects on its own.`, { ...data, retryable: true });
  }
  if (state === '55P03') {
    const wait = context.lockTimeoutMs === undefined ? '' : ` within ${context.lockTimeoutMs} ms (MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS)`;
    return new OrchestratorError('LOCK_TIMEOUT', `Another server is changing ${context.parentTaskId ? `task ${context.parentTaskId}` : 'this task'} and did not finish${wait}. Nothing was changed. Call again in a moment.`, { ...data, retryable: true });
  }
  if (state === '57014') {
    const limit = context.statementTimeoutMs === undefined ? '' : ` within ${context.statementTimeoutMs} ms (MCP_TASK_ORCHESTRATOR_DB_STATEMENT_TIMEOUT_MS)`;
    return new OrchestratorError('STORAGE_UNAVAILABLE', `The database ${database} did not answer${limit} to ${context.what}, so the statement was cancelled. Nothing was changed. The database is overloaded or blocked; call again in a moment.`, { ...data, retryable: true });
  }
  if (isTransientConflict(error)) {
    return new OrchestratorError('STORAGE_UNAVAILABLE', `The database ${database} kept rolling back the change (${cause}) as other servers changed the same rows. Nothing was changed. Call again.`, { ...data, retryable: true });
  }
  return new OrchestratorError('STORAGE_ERROR', `The database ${database} refused to ${context.what} (${cause}). Nothing was changed. ${hintFor(state)}`, { ...data, retryable: false });
}

function describe(error: unknown): string {
  const state = sqlState(error);
  const e = error as NodeJS.ErrnoException;
  const message = (e?.message ?? String(error)).split('\n')[0]!;
  if (state) return `${state}: ${message}`;
  return e?.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** What a person can do, by SQLSTATE class. */
function hintFor(state: string | null): string {
  if (state === '3D000') return 'The database named in the URL does not exist: create it (createdb), or correct the URL.';
  if (state?.startsWith('28')) return 'The user or password in the URL was refused: correct them (or pg_hba.conf on the database server).';
  if (state === '42501') return 'The database user lacks a privilege on the task_orchestrator schema: grant it, or connect as its owner.';
  if (state?.startsWith('53')) return 'The database server is out of a resource (disk, memory): free some, then call again.';
  if (state?.startsWith('42')) return 'The task_orchestrator schema does not look as this version expects: run "task-orchestrator doctor" against the database.';
  return 'Check the database server\'s log for this error.';
}

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
const DRIVER_CONNECTION_FAILURES = [/^Connection terminated/, /^Query read timeout/, /is not queryable/, /^Cannot use a pool after calling end/];

/**
 * The pool's words when every connection stayed busy for the whole wait (connectionTimeoutMillis): the
 * database answers, this server has too much to do on it. (Opening a connection that times out is
 * "Connection terminated due to connection timeout".)
 */
const POOL_BUSY = /^timeout exceeded when trying to connect/;

/**
 * The system's codes for a network that failed: worth calling again. Only these: Node's own ERR_* codes
 * (ERR_TLS_CERT_ALTNAME_INVALID, ...) and TLS verification codes are configuration, never cured by waiting.
 */
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENETRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EADDRNOTAVAIL']);

/** True when the database could not be reached or the connection was lost: the statement got no answer. */
export function isConnectionFailure(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== null) return state.startsWith('08') || SESSION_LOST.has(state);
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && NETWORK_ERRNOS.has(code)) return true;
  const message = (error as Error | null)?.message ?? '';
  return isPoolBusy(error) || DRIVER_CONNECTION_FAILURES.some((pattern) => pattern.test(message));
}

/** Every connection of the pool stayed busy while this call waited for one. */
export function isPoolBusy(error: unknown): boolean {
  return sqlState(error) === null && POOL_BUSY.test((error as Error | null)?.message ?? '');
}

/**
 * TLS could not be set up: the certificate does not match the host or is not trusted, the server does not
 * speak TLS, a certificate file is missing. Configuration (the URL's sslmode and certificate files): no retry.
 */
export function isTlsFailure(error: unknown): boolean {
  if (sqlState(error) !== null) return false;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = (error as Error | null)?.message ?? '';
  if (typeof code === 'string' && /^ERR_(TLS|SSL)_|CERT|_SIGNATURE|^UNABLE_TO_|ISSUER/.test(code)) return true;
  return /does not support SSL|SSL connection|sslrootcert|sslcert|sslkey|self[- ]signed certificate|certificate/i.test(message);
}

/**
 * An error that the database or the connection to it raised, not the caller's own code: a failure
 * inside update's change() that is one of these belongs to the transaction (retried or refused as such).
 */
export function isDatabaseFailure(error: unknown): boolean {
  return sqlState(error) !== null || isConnectionFailure(error); // (TLS fails at connect, never inside a transaction)
}

/**
 * A wait for a task's row lock (SELECT ... FOR UPDATE) that ended, by lock_timeout or by the statement
 * timeout that bounds the same wait: a LOCK_TIMEOUT, not an overloaded database.
 */
export class LockWaitTimedOut extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
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
  /** The pool's size (MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE), for the refusal when every connection is busy. */
  poolSize?: number;
  parentTaskId?: string;
}

/** The OrchestratorError a tool returns for a failure of the database; OrchestratorErrors pass through. */
export function databaseError(error: unknown, context: FailureContext): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const database = redactDatabaseUrl(context.url);
  const cause = withoutPassword(describe(error instanceof LockWaitTimedOut ? error.cause : error), context.url);
  const state = sqlState(error instanceof LockWaitTimedOut ? error.cause : error);
  const data = { database, sqlstate: state, outcome: context.outcome, ...(context.parentTaskId ? { parent_task_id: context.parentTaskId } : {}) };
  if (context.outcome === 'unknown' && isConnectionFailure(error)) {
    return new OrchestratorError('STORAGE_UNAVAILABLE', `The connection to the database ${database} was lost while the change was being committed (${cause}), so it may or may not be stored. Call again with the same idempotency_key (a retry that cannot apply it twice), or check with orchestrator_get_status first; the server reconnects on its own.`, { ...data, retryable: true });
  }
  if (isPoolBusy(error)) {
    const all = context.poolSize === undefined ? 'all' : `all ${context.poolSize}`;
    return new OrchestratorError('STORAGE_UNAVAILABLE', `${all[0]!.toUpperCase()}${all.slice(1)} connections to the database ${database} are busy with other calls of this server, and none came free in time to ${context.what}. Nothing was changed. Call again in a moment; if this happens often, raise MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE (and the database's max_connections).`, { ...data, retryable: true });
  }
  if (isTlsFailure(error)) {
    return new OrchestratorError('STORAGE_ERROR', `A TLS connection to the database ${database} could not be set up (${cause}), so it was not reached to ${context.what}. Nothing was changed. Check the URL's sslmode and certificates: with sslmode=verify-full the server's certificate must name the host in the URL and be signed by the CA in sslrootcert; sslmode=require encrypts without checking the name; sslmode=disable for a server without TLS. Calling again will not help until that is corrected.`, { ...data, retryable: false });
  }
  if (isConnectionFailure(error)) {
    return new OrchestratorError('STORAGE_UNAVAILABLE', `The database ${database} cannot be reached (${cause}) to ${context.what}. Nothing was changed. Check that PostgreSQL runs and accepts connections there (and the network to it), then call again: the server reconnects on its own.`, { ...data, retryable: true });
  }
  if (state === '55P03' || error instanceof LockWaitTimedOut) {
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

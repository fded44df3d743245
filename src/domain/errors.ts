/**
 * One error type for everything the orchestrator refuses or cannot do. `code` is stable and documented
 * (README, "Error codes"); `message` names the problem and the fix; `data` carries the values involved.
 */
export type ErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_PLAN'
  | 'UNKNOWN_ROLE'
  | 'UNKNOWN_DEPENDENCY'
  | 'AMBIGUOUS_DEPENDENCY'
  | 'DEPENDENCY_CYCLE'
  | 'DUPLICATE_TASK_ID'
  | 'INVALID_TASK_ID'
  | 'TASK_NOT_FOUND'
  | 'AMBIGUOUS_TASK_ID'
  | 'INVALID_TRANSITION'
  | 'UNMET_DEPENDENCIES'
  | 'LOCK_TIMEOUT'
  | 'LOCK_LOST'
  | 'STORE_CORRUPT'
  | 'UNSUPPORTED_VERSION'
  | 'STORAGE_ERROR'
  | 'STORAGE_UNAVAILABLE'
  | 'NO_PROJECT_FOLDER'
  | 'SUBTASK_CLAIMED'
  | 'LEASE_LOST'
  | 'IDEMPOTENCY_CONFLICT'
  /** Encrypted data and no key configured: data has the key id it needs. */
  | 'ENCRYPTION_KEY_REQUIRED'
  /** Encrypted with a key other than the ones configured: data has the key id found and the ones configured. */
  | 'ENCRYPTION_KEY_MISMATCH'
  /** A backup archive that is damaged, truncated or not one of ours: refused before anything is read from it. */
  | 'BACKUP_INVALID';

export class OrchestratorError extends Error {
  override readonly name = 'OrchestratorError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** What small pure validators return instead of throwing; the application turns a failure into an error. */
export type Check<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string; data?: Record<string, unknown> };

export const ok = <T>(value: T): Check<T> => ({ ok: true, value });
export const fail = <T = never>(code: ErrorCode, message: string, data?: Record<string, unknown>): Check<T> => ({
  ok: false,
  code,
  message,
  ...(data ? { data } : {}),
});

export function unwrap<T>(check: Check<T>): T {
  if (check.ok) return check.value;
  throw new OrchestratorError(check.code, check.message, check.data ?? {});
}

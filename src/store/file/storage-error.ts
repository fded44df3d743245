import { OrchestratorError } from '../../domain/errors.js';
import { UnflushedChangeError } from './durable-fs.js';

/**
 * A failed file-system call as the STORAGE_ERROR a tool returns: what could not be done, the system's
 * code and message, whether anything changed, and what to do about it. Errors that are already
 * OrchestratorErrors pass through.
 */
export function storageError(error: unknown, what: string): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const unflushed = error instanceof UnflushedChangeError;
  const cause = unflushed ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown';
  const outcome = unflushed
    ? 'The new version is in place but could not be flushed to disk, so it might not survive a power failure: check with orchestrator_get_status before retrying.'
    : 'Nothing was changed.';
  return new OrchestratorError('STORAGE_ERROR', `Could not ${what} (${code}: ${(cause as Error).message}). ${outcome} ${storageHint(code)}`, { errno: code, unflushed });
}

/** What a person can do about a failed file-system call, by its error code. */
export function storageHint(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'The disk is full (or the quota used up); free some space and try again.';
    case 'EFBIG':
      return 'The file size limit of this process (ulimit -f) was reached; raise it and try again.';
    case 'EACCES':
    case 'EPERM':
      return 'Check the permissions of the .task_orchestrator folder.';
    case 'EROFS':
      return 'The .task_orchestrator folder is on a read-only file system; make it writable, or start the server in another project folder.';
    case 'EMFILE':
    case 'ENFILE':
      return 'Too many files are open (ulimit -n); close some programs or raise the limit, then try again.';
    case 'EISDIR':
      return 'A folder stands where a file belongs in .task_orchestrator; run "task-orchestrator doctor" to find it.';
    default:
      return 'Check the disk and the .task_orchestrator folder, then try again.';
  }
}

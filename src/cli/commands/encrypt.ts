import { convertStore, requireCurrentKey, type ConversionOptions } from '../conversion.js';

/**
 * `task-orchestrator encrypt`: encrypts every parent and detailed-work document still in clear with the
 * key of MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE (those under an older key given in
 * _PREVIOUS_KEY_FILES too), in place; a rerun after a kill continues.
 */
export function encrypt(options: ConversionOptions): Promise<number> {
  return convertStore(options, { done: 'encrypted', keyring: (configured) => requireCurrentKey(configured, 'encrypt') });
}

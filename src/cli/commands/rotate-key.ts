import { convertStore, requireCurrentKey, type ConversionOptions } from '../conversion.js';

/**
 * `task-orchestrator rotate-key`: re-encrypts everything under the current key, reading what was
 * written with older ones from the key files in MCP_TASK_ORCHESTRATOR_ENCRYPTION_PREVIOUS_KEY_FILES;
 * afterwards no parent or document needs the old keys. In place; a rerun after a kill continues.
 */
export function rotateKey(options: ConversionOptions): Promise<number> {
  return convertStore(options, { done: 're-encrypted', keyring: (configured) => requireCurrentKey(configured, 'rotate-key') });
}

import { keyringOf, type EncryptionKey, type Keyring } from '../../safety/encryption.js';
import { KEY_FILE_VARIABLE } from '../../safety/key-source.js';
import { convertStore, type ConversionOptions } from '../conversion.js';
import { UsageError } from '../run.js';

/**
 * `task-orchestrator decrypt`: stores every parent and document in clear again, reading them with the
 * configured key (and any in _PREVIOUS_KEY_FILES), none of which is written with. In place; a rerun
 * after a kill continues. Servers must stop writing with the key first, or they encrypt again what they change.
 */
export function decrypt(options: ConversionOptions): Promise<number> {
  return convertStore(options, { done: 'decrypted', keyring: readOnlyKeys });
}

/** Every configured key for reading, none for writing: the codec then stores in clear. */
function readOnlyKeys(configured: Keyring): Keyring {
  const keys = [configured.current, ...configured.previous].filter((k): k is EncryptionKey => k !== null);
  if (keys.length === 0) throw new UsageError(`decrypt needs the key the tasks are encrypted with: set ${KEY_FILE_VARIABLE} to its file.`);
  return keyringOf(null, keys);
}

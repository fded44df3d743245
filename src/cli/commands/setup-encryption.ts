import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCode, nodeFs, tempPathFor, type DurableFs } from '../../store/file/durable-fs.js';
import { STORE_FOLDER } from '../../store/file/layout.js';
import { EncryptionKey } from '../../safety/encryption.js';
import { KEY_FILE_VARIABLE, readKeyFile } from '../../safety/key-source.js';
import { printable } from '../format.js';
import { EXIT, print, UsageError, warn } from '../run.js';

export interface SetupEncryptionOptions {
  keyFile?: string;
}

/**
 * `task-orchestrator setup encryption`: creates a key file of 32 random bytes (base64) with mode 600,
 * never replacing one, and says where it is, its id, and what to do with it. The key itself is never
 * printed: terminals are logged, scrolled back and shared on screen.
 */
export async function setupEncryption(options: SetupEncryptionOptions): Promise<number> {
  const file = path.resolve(options.keyFile ?? defaultKeyFile());
  if (file.split(path.sep).includes(STORE_FOLDER)) {
    throw new UsageError(`${file} is inside a ${STORE_FOLDER} folder: a key must not be kept beside the data it protects (nor go into its backups). Pass --key-file with a path outside the project.`);
  }
  const { key, bytes } = EncryptionKey.generate(file);
  try {
    await createPrivateFile(file, `${bytes.toString('base64')}\n`);
  } catch (error) {
    if (!isCode(error, 'EEXIST')) throw error;
    return refuseExisting(file);
  } finally {
    bytes.fill(0);
  }
  print(`Created the encryption key ${printable(file)}${process.platform === 'win32' ? '' : ' (mode 600: readable by you only)'}.`);
  print(`Key id: ${key.id}`);
  print('');
  print('Keep a copy of this file somewhere other than this machine, such as a password manager: without it,');
  print('encrypted tasks and backups cannot be read by anyone, you included. Never put it in a project folder or');
  print('its repository.');
  print('');
  print('To use it, give the server this setting in its environment (the "env" of its entry in your MCP');
  print('client\'s configuration), then restart it:');
  print(`  ${KEY_FILE_VARIABLE}=${printable(file)}`);
  print('');
  print('New and changed tasks are then stored encrypted. To encrypt the tasks already there, run next, with');
  print('the same setting (servers may keep running; if it is interrupted, run it again):');
  print(`  ${KEY_FILE_VARIABLE}=${printable(file)} task-orchestrator encrypt`);
  return EXIT.OK;
}

/** Where keys go unless --key-file says otherwise: the user's configuration folder, outside any project. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const home = env.HOME || os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'task-orchestrator', 'encryption.key');
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'task-orchestrator', 'encryption.key');
}

/**
 * Creates `file` with `content`, mode 600 from its first byte, durably, failing with EEXIST if anything
 * is there: temp file in the same folder, write, fsync, hard link into place (which never replaces),
 * folder synced. Missing folders are created private (700).
 */
async function createPrivateFile(file: string, content: string, fs: DurableFs = nodeFs): Promise<void> {
  const dir = path.dirname(file);
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created) await syncNewFolders(dir, created, fs);
  const temp = tempPathFor(file);
  try {
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.link(temp, file);
  } finally {
    await fs.unlink(temp).catch(() => {});
  }
  await fs.syncDir(dir);
}

/** Syncs the folders holding each folder mkdir created, so they survive power loss with the key in them. */
async function syncNewFolders(dir: string, firstCreated: string, fs: DurableFs): Promise<void> {
  for (let folder = dir; ; folder = path.dirname(folder)) {
    await fs.syncDir(path.dirname(folder));
    if (folder === firstCreated || folder === path.dirname(folder)) break;
  }
}

function refuseExisting(file: string): number {
  warn(`error: ${printable(file)} already exists, and setup never replaces a key: what was encrypted with it could not be read any more.`);
  try {
    const { key } = readKeyFile(file, '--key-file');
    warn(`It holds the key with id ${key.id}. To use it, set ${KEY_FILE_VARIABLE}=${printable(file)}; to create another key, pass --key-file with a new path.`);
  } catch (error) {
    warn(`It is not a usable key file (${printable((error as Error).message)}). Move it away, or pass --key-file with a new path.`);
  }
  return EXIT.PROBLEMS;
}

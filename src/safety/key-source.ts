import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import { InvalidSettingError } from '../config.js';
import { readOpenFile } from '../store/file/durable-fs.js';
import { EncryptionKey, KEY_BYTES, keyringOf, type Keyring } from './encryption.js';

/**
 * Where the encryption key comes from (README, "Your data"): a key file, or the key itself in the
 * environment, and, while rotate-key converts a store, the files of the keys being replaced.
 */
export const KEY_FILE_VARIABLE = 'MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE';
export const KEY_VARIABLE = 'MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY';
/** Files of older keys, separated like PATH (":" or ";" on Windows): read, never written with. */
export const PREVIOUS_KEY_FILES_VARIABLE = 'MCP_TASK_ORCHESTRATOR_ENCRYPTION_PREVIOUS_KEY_FILES';

/** A key file is 32 bytes or 44 characters of base64 and a newline: anything much larger is not one. */
const KEY_FILE_MAX_BYTES = 1024;
const FIX = 'Create a key with "task-orchestrator setup encryption", or put 32 random bytes (or their base64, e.g. from "openssl rand -base64 32") there.';

export interface LoadedKeyring {
  keyring: Keyring;
  /** Things to tell the person that do not stop the server (a key file other users can read). */
  warnings: string[];
}

/**
 * The keys the environment configures; no variable set means encryption off. Every problem is refused
 * (all of them in one InvalidSettingError), never ignored: data written without the key the person meant
 * to use would be data in clear.
 */
export function loadKeyring(env: NodeJS.ProcessEnv = process.env): LoadedKeyring {
  const problems: string[] = [];
  const warnings: string[] = [];
  const current = currentKey(env, problems, warnings);
  const previous = previousKeys(env, problems, warnings);
  if (problems.length) throw new InvalidSettingError(problems.join('\n'));
  return { keyring: keyringOf(current, previous), warnings };
}

function currentKey(env: NodeJS.ProcessEnv, problems: string[], warnings: string[]): EncryptionKey | null {
  const file = nonEmpty(env[KEY_FILE_VARIABLE]);
  const inline = nonEmpty(env[KEY_VARIABLE]);
  if (file && inline) {
    problems.push(`${KEY_FILE_VARIABLE} and ${KEY_VARIABLE} are both set: set only one of them (the file is the safer: the environment of a process can be read by more programs than a file with mode 600).`);
    return null;
  }
  if (file) return collect(() => readKeyFile(file, KEY_FILE_VARIABLE), problems, warnings);
  if (inline) return collect(() => ({ key: keyFromText(inline, KEY_VARIABLE), warnings: [] }), problems, warnings);
  return null;
}

function previousKeys(env: NodeJS.ProcessEnv, problems: string[], warnings: string[]): EncryptionKey[] {
  const list = nonEmpty(env[PREVIOUS_KEY_FILES_VARIABLE]);
  if (!list) return [];
  const files = list.split(path.delimiter).map((f) => f.trim()).filter(Boolean);
  return files.map((file) => collect(() => readKeyFile(file, PREVIOUS_KEY_FILES_VARIABLE), problems, warnings)).filter((k): k is EncryptionKey => k !== null);
}

function collect(read: () => { key: EncryptionKey; warnings: string[] }, problems: string[], warnings: string[]): EncryptionKey | null {
  try {
    const result = read();
    warnings.push(...result.warnings);
    return result.key;
  } catch (error) {
    if (!(error instanceof InvalidSettingError)) throw error;
    problems.push(error.message);
    return null;
  }
}

/**
 * The key in a key file: 32 raw bytes, or their base64 (standard or URL alphabet, padding optional),
 * either followed by one newline. A file other users could change is refused (whoever changes it chooses
 * the key new data is written with); one they can read is accepted with a warning (containers often mount
 * secrets readable by all, and refusing would leave people with the key in the environment instead).
 */
export function readKeyFile(file: string, variable: string): { key: EncryptionKey; warnings: string[] } {
  const where = `${variable} (${file})`;
  const { bytes, mode } = readSmallFile(file, where);
  const warnings: string[] = [];
  if (process.platform !== 'win32') {
    if (mode & 0o022) throw new InvalidSettingError(`${where} can be changed by other users (mode ${octal(mode)}): run "chmod 600 ${file}" (and check who owns it), then start again.`);
    if (mode & 0o044) warnings.push(`${where} can be read by other users (mode ${octal(mode)}); anyone who reads it can read the encrypted tasks. Run "chmod 600 ${file}".`);
  }
  const material = keyMaterial(bytes);
  if (!material) throw new InvalidSettingError(`${where} does not hold a key: it has ${bytes.length} bytes, and a key file holds ${KEY_BYTES} random bytes or their base64 (44 characters), optionally followed by a newline. ${FIX}`);
  return { key: EncryptionKey.fromBytes(material, where), warnings };
}

/** The key given in the environment: base64 of 32 bytes. */
export function keyFromText(text: string, variable: string): EncryptionKey {
  const material = base64Key(text.trim());
  if (!material) throw new InvalidSettingError(`${variable} is not a key: it must be the base64 of ${KEY_BYTES} random bytes (44 characters, e.g. from "openssl rand -base64 32"); it has ${text.trim().length} characters. Or use ${KEY_FILE_VARIABLE} with a key file (task-orchestrator setup encryption creates one).`);
  return EncryptionKey.fromBytes(material, variable);
}

/** The 32 key bytes a key file's content stands for, or null. */
export function keyMaterial(content: Buffer): Buffer | null {
  if (content.length === KEY_BYTES) return content;
  const withoutNewline = stripOneNewline(content);
  if (withoutNewline.length === KEY_BYTES) return withoutNewline;
  return base64Key(withoutNewline.toString('latin1'));
}

function stripOneNewline(content: Buffer): Buffer {
  if (content.at(-1) !== 0x0a) return content;
  return content.subarray(0, content.at(-2) === 0x0d ? -2 : -1);
}

/** Base64 (either alphabet, padding optional) of exactly 32 bytes, in canonical form; anything else is null. */
function base64Key(text: string): Buffer | null {
  const urlForm = text.replace(/=$/, '').replace(/[+/]/g, (c) => (c === '+' ? '-' : '_'));
  if (!/^[A-Za-z0-9_-]{43}$/.test(urlForm)) return null;
  const bytes = Buffer.from(urlForm, 'base64url');
  return bytes.toString('base64url') === urlForm ? bytes : null;
}

/** Reads a key file (following links: secrets are often mounted as links) without blocking on a named pipe. */
function readSmallFile(file: string, where: string): { bytes: Buffer; mode: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be opened (${code ?? (error as Error).message})`;
    throw new InvalidSettingError(`${where} ${why}. Point it to your key file. ${FIX}`);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new InvalidSettingError(`${where} is not a regular file. Point it to your key file. ${FIX}`);
    if (info.size > KEY_FILE_MAX_BYTES) throw new InvalidSettingError(`${where} has ${info.size} bytes: a key file holds ${KEY_BYTES} random bytes or their base64. Is it the right file? ${FIX}`);
    return { bytes: readOpenFile(fd, info.size), mode: info.mode & 0o777 };
  } finally {
    closeSync(fd);
  }
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function nonEmpty(value: string | undefined): string | null {
  return value && value.trim() ? value.trim() : null;
}

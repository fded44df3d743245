import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { HTTP_TOKEN_VARIABLE } from '../../config.js';
import { createFileExclusive, isCode, readRegularFileSync } from '../../store/file/durable-fs.js';

/** The generated token's file, in .task_orchestrator/: readable by its owner only. */
export const TOKEN_FILE_NAME = 'http-token';
const TOKEN_FILE_MODE = 0o600;
/** 32 random bytes: 43 characters of base64url, above MIN_REMOTE_TOKEN_LENGTH. */
const TOKEN_BYTES = 32;

/** Where the token came from: what the server may print (never the token itself). */
export type TokenSource = { kind: 'environment' } | { kind: 'file'; file: string; created: boolean };

export interface BearerToken {
  token: string;
  source: TokenSource;
}

/** A token file that cannot be used as it is: the message says why and what to do. */
export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
}

/**
 * The token every request must carry: MCP_TASK_ORCHESTRATOR_HTTP_TOKEN, else the one in
 * `<root>/http-token`, generated at the first start. Two servers starting at once in one folder agree
 * on one token: the file is created exclusively (fsynced, then linked into place), and the loser reads
 * the winner's.
 */
export async function resolveToken(fromEnvironment: string | null, root: string): Promise<BearerToken> {
  if (fromEnvironment !== null) return { token: fromEnvironment, source: { kind: 'environment' } };
  const file = path.join(root, TOKEN_FILE_NAME);
  const existing = readTokenFile(file);
  if (existing !== null) return { token: existing, source: { kind: 'file', file, created: false } };
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  try {
    await createFileExclusive(file, `${token}\n`, { durable: true, mode: TOKEN_FILE_MODE });
  } catch (error) {
    if (isCode(error, 'EEXIST')) return { token: readTokenFile(file)!, source: { kind: 'file', file, created: false } };
    throw new TokenFileError(`Cannot write the token file ${file}: ${(error as Error).message}. Make .task_orchestrator/ writable, or set ${HTTP_TOKEN_VARIABLE}.`);
  }
  await ignoredByGit(root);
  return { token, source: { kind: 'file', file, created: true } };
}

/**
 * The token in an existing file, or null when there is none. Refused like ssh refuses a private key:
 * a file others can read (a token committed to a repository comes back 0644 from every checkout, and
 * anyone with the repository knows it), one owned by another user, a link, anything but one token.
 */
function readTokenFile(file: string): string | null {
  const info = lstatSync(file, { throwIfNoEntry: false });
  if (!info) return null;
  const fix = `Delete it to have a new token generated at the next start, or set ${HTTP_TOKEN_VARIABLE}.`;
  if (!info.isFile()) throw new TokenFileError(`The token file ${file} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}. ${fix}`);
  if ((info.mode & 0o077) !== 0) throw new TokenFileError(`The token file ${file} can be read by other users (mode ${(info.mode & 0o777).toString(8)}). Run "chmod 600 ${file}" if you made it yourself; if it came from a repository or a copy, others know it: ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) throw new TokenFileError(`The token file ${file} belongs to another user (uid ${info.uid}). ${fix}`);
  const token = readRegularFileSync(file).toString('utf8').trim();
  if (!/^[\x21-\x7e]+$/.test(token)) throw new TokenFileError(`The token file ${file} does not hold one token (letters, digits and punctuation on one line). ${fix}`);
  return token;
}

/** A .gitignore beside the token, so that committing .task_orchestrator/ does not publish it; one already there is left alone. */
async function ignoredByGit(root: string): Promise<void> {
  const text = `# Written by task-orchestrator serve --http: the bearer token is a secret.\n${TOKEN_FILE_NAME}\n`;
  await createFileExclusive(path.join(root, '.gitignore'), text, { durable: true }).catch(() => undefined);
}

/**
 * Whether an Authorization header carries the token, compared in constant time: both sides are
 * hashed first, so neither the content nor the length of the token shows in how long a refusal takes.
 */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const presented = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(token));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

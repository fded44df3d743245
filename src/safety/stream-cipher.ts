import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { OrchestratorError } from '../domain/errors.js';
import { ByteQueue } from './byte-queue.js';
import { keyFor, type EncryptionKey, type Keyring } from './encryption.js';

/**
 * Encryption of a whole file of any size (backup archives), in chunks, each with its own AES-256-GCM
 * authentication, so that a reader never hands on a byte it has not authenticated and never holds more
 * than a chunk. The construction is the usual "STREAM" one:
 *
 *   header (44 bytes): magic "TOBKENC1" | key id (8 bytes) | salt (16 random bytes) | chunk size (uint32 BE)
 *                      | the first 8 bytes of the SHA-256 of the 36 bytes before
 *   chunks:            ciphertext of `chunk size` bytes (the last one: 0 to `chunk size`) | 16-byte tag
 *
 * The file's key is derived from the encryption key and the salt (HKDF-SHA256), so no two files share
 * a key and the chunk counter can serve as the IV: 7 zero bytes | the chunk number (uint32 BE) | 1 for
 * the last chunk, else 0. Every chunk authenticates the header as additional data. So a changed byte
 * anywhere fails (the header by its checksum, a chunk by its tag), and so do chunks reordered (the
 * number), a file cut at a chunk boundary (no chunk marked last) and bytes after the last chunk.
 */

export const ENCRYPTED_MAGIC = Buffer.from('TOBKENC1');
export const HEADER_BYTES = 44;
export const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
const MAX_CHUNKS = 2 ** 32;
/** Chunk sizes a reader accepts: what a writer of this format could have chosen, so a damaged header cannot ask for gigabytes. */
const CHUNK_SIZE_BOUNDS = { min: 1024, max: 16 * 1024 * 1024 };

/** Encrypts what is pushed into it; `header` first, then every piece push() and finish() return, in order. */
export class ChunkEncryptor {
  readonly header: Buffer;
  readonly #key: Buffer;
  readonly #chunkBytes: number;
  readonly #pending = new ByteQueue();
  #counter = 0;
  #finished = false;

  constructor(key: EncryptionKey, label: string, chunkBytes = CHUNK_BYTES) {
    const salt = randomBytes(SALT_BYTES);
    this.header = headerOf(Buffer.from(key.id, 'hex'), salt, chunkBytes);
    this.#key = key.derive(label, salt);
    this.#chunkBytes = chunkBytes;
  }

  /** Encrypted chunks for every full chunk now available (a chunk is held back until more follows, since the last one is marked). */
  push(data: Uint8Array): Buffer[] {
    if (this.#finished) throw new Error('ChunkEncryptor: push after finish');
    this.#pending.push(data);
    const out: Buffer[] = [];
    while (this.#pending.bytes > this.#chunkBytes) out.push(this.#seal(this.#pending.take(this.#chunkBytes), false));
    return out;
  }

  /** The last chunk (possibly of no bytes: its tag still marks the end). */
  finish(): Buffer {
    this.#finished = true;
    return this.#seal(this.#pending.take(this.#pending.bytes), true);
  }

  #seal(plain: Buffer, last: boolean): Buffer {
    if (this.#counter >= MAX_CHUNKS) throw new Error('ChunkEncryptor: more chunks than the format numbers');
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonceOf(this.#counter++, last));
    cipher.setAAD(this.header);
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }
}

/**
 * Decrypts what is pushed into it, returning only authenticated bytes. Refused: a file that does not
 * start with the magic (not encrypted by us: BACKUP_INVALID), a key id not in the keyring
 * (ENCRYPTION_KEY_REQUIRED or ENCRYPTION_KEY_MISMATCH), and any damage (BACKUP_INVALID).
 */
export class ChunkDecryptor {
  readonly #keyring: Keyring;
  readonly #label: string;
  readonly #what: string;
  #header: Buffer | null = null;
  #key: Buffer | null = null;
  #chunkBytes = 0;
  readonly #pending = new ByteQueue();
  #counter = 0;

  constructor(keyring: Keyring, label: string, what: string) {
    this.#keyring = keyring;
    this.#label = label;
    this.#what = what;
  }

  push(data: Uint8Array): Buffer[] {
    this.#pending.push(data);
    if (!this.#header && this.#pending.bytes >= HEADER_BYTES) this.#readHeader(this.#pending.take(HEADER_BYTES));
    const out: Buffer[] = [];
    // A sealed chunk is opened once more bytes follow it: only then is it known not to be the last.
    while (this.#header && this.#pending.bytes > this.#chunkBytes + TAG_BYTES) out.push(this.#open(this.#pending.take(this.#chunkBytes + TAG_BYTES), false));
    return out;
  }

  finish(): Buffer {
    if (!this.#header) throw this.#damaged(`it ends after ${this.#pending.bytes} bytes, inside its header`);
    if (this.#pending.bytes < TAG_BYTES) throw this.#damaged('it is cut short: its last chunk is missing');
    return this.#open(this.#pending.take(this.#pending.bytes), true);
  }

  /** The key id named by the header, once read. */
  get keyId(): string | null {
    return this.#header ? this.#header.subarray(8, 16).toString('hex') : null;
  }

  #readHeader(header: Buffer): void {
    if (!header.subarray(0, 8).equals(ENCRYPTED_MAGIC)) throw this.#damaged('it does not start as an encrypted backup of task-orchestrator does');
    if (!header.subarray(36, 44).equals(checkOf(header.subarray(0, 36)))) throw this.#damaged('its header was changed or damaged (checksum mismatch)');
    const chunkBytes = header.readUInt32BE(32);
    if (chunkBytes < CHUNK_SIZE_BOUNDS.min || chunkBytes > CHUNK_SIZE_BOUNDS.max) throw this.#damaged(`its header names a chunk size of ${chunkBytes} bytes`);
    const key = keyFor(this.#keyring, header.subarray(8, 16).toString('hex'), this.#what);
    this.#key = key.derive(this.#label, header.subarray(16, 32));
    this.#chunkBytes = chunkBytes;
    this.#header = header;
  }

  #open(sealed: Buffer, last: boolean): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.#key!, nonceOf(this.#counter++, last));
    decipher.setAAD(this.#header!);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw this.#damaged(`chunk ${this.#counter - 1} fails authentication: the file was changed, damaged${last ? ', cut short or extended' : ''} after it was written`);
    }
  }

  #damaged(reason: string): OrchestratorError {
    return new OrchestratorError('BACKUP_INVALID', `${this.#what} cannot be read: ${reason}. Nothing was changed; use another backup.`, { reason });
  }
}

/** Whether a file's first bytes are those of an encrypted backup. */
export function startsEncrypted(firstBytes: Uint8Array): boolean {
  return Buffer.from(firstBytes.buffer, firstBytes.byteOffset, Math.min(firstBytes.byteLength, ENCRYPTED_MAGIC.length)).equals(ENCRYPTED_MAGIC);
}

function headerOf(keyId: Buffer, salt: Buffer, chunkBytes: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  ENCRYPTED_MAGIC.copy(header, 0);
  keyId.copy(header, 8);
  salt.copy(header, 16);
  header.writeUInt32BE(chunkBytes, 32);
  checkOf(header.subarray(0, 36)).copy(header, 36);
  return header;
}

function checkOf(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, 8);
}

function nonceOf(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(counter, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

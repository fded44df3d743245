import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomFillSync } from 'node:crypto';
import { inspect } from 'node:util';
import { OrchestratorError } from '../domain/errors.js';

/**
 * Encryption at rest: AES-256-GCM (node:crypto) over one text at a time, in a versioned envelope that
 * names the key it was written with. The key itself never leaves this module: it is used only through
 * keys derived from it (HKDF-SHA256), one per purpose, so that a field and a backup never share a key.
 *
 * Envelope (one JSON-safe line): `enc:v1:<key id>:<iv>:<ciphertext and tag>`, the key id as 16 hex
 * digits, the 12-byte IV and the ciphertext followed by its 16-byte tag in base64url without padding.
 * A fresh random IV per encryption: with 96-bit random IVs, NIST's bound of 2^32 encryptions per key
 * keeps the chance of a repeat below 2^-32; at a thousand fields per write that is four million writes,
 * and rotate-key starts the count again. What GCM does not hide is the length of the text.
 *
 * Each encryption is bound to a `context` (authenticated, not stored): the place the text belongs, such as
 * the parent id and field name. A ciphertext copied to another field or another task does not decrypt.
 */

export const KEY_BYTES = 32;
export const ENVELOPE_VERSION = 'v1';
export const ENVELOPE_PREFIX = `enc:${ENVELOPE_VERSION}:`;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_LABEL = 'task-orchestrator key id v1';
const FIELD_KEY_LABEL = 'task-orchestrator fields v1';
/** prefix, key id, IV (12 bytes: 16 characters exactly), ciphertext + tag (at least the 16-byte tag: 22 characters). */
const ENVELOPE = /^enc:v1:([0-9a-f]{16}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22,})$/;

/**
 * A 32-byte key. `id` is a fingerprint (the first 8 bytes of an HMAC of a fixed label under the key): the
 * same key always has the same id, and the id tells nothing about the key. Printing or logging the object
 * shows the id and where the key came from, never the key.
 */
export class EncryptionKey {
  readonly id: string;
  readonly #material: Buffer;
  readonly #fieldKey: Buffer;

  private constructor(
    material: Buffer,
    /** Where the key came from, for messages: "MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE (/path)". */
    readonly source: string,
  ) {
    this.#material = material;
    this.id = keyIdOf(material);
    this.#fieldKey = derive(material, FIELD_KEY_LABEL, Buffer.alloc(0));
  }

  /** A key from its 32 raw bytes (copied: the caller may wipe its buffer). */
  static fromBytes(bytes: Uint8Array, source: string): EncryptionKey {
    if (bytes.length !== KEY_BYTES) throw new RangeError(`an encryption key has ${KEY_BYTES} bytes, not ${bytes.length}`);
    return new EncryptionKey(Buffer.from(bytes), source);
  }

  /** A new random key (setup encryption, tests). */
  static generate(source = 'a generated key'): { key: EncryptionKey; bytes: Buffer } {
    const bytes = randomBytes(KEY_BYTES);
    return { key: new EncryptionKey(Buffer.from(bytes), source), bytes };
  }

  /** A key for one purpose (`label`) and `salt`, derived with HKDF-SHA256: the backup archives' per-archive keys. */
  derive(label: string, salt: Uint8Array): Buffer {
    return derive(this.#material, label, salt);
  }

  /** @internal the fields' key, for encryptText and decryptText. */
  get fieldKey(): Buffer {
    return this.#fieldKey;
  }

  toJSON(): Record<string, string> {
    return { id: this.id, source: this.source };
  }

  [inspect.custom](): string {
    return `EncryptionKey { id: '${this.id}', source: ${JSON.stringify(this.source)} }`;
  }
}

function derive(material: Buffer, label: string, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', material, salt, label, KEY_BYTES));
}

export function keyIdOf(material: Uint8Array): string {
  return createHmac('sha256', material).update(KEY_ID_LABEL).digest().subarray(0, 8).toString('hex');
}

/**
 * The keys a process knows: `current` writes (null: encryption off), `previous` only read, so that data
 * written with an older key stays readable while rotate-key converts it.
 */
export interface Keyring {
  current: EncryptionKey | null;
  previous: readonly EncryptionKey[];
}

export const NO_KEYS: Keyring = Object.freeze({ current: null, previous: Object.freeze([]) as readonly EncryptionKey[] });

export function keyringOf(current: EncryptionKey | null, previous: readonly EncryptionKey[] = []): Keyring {
  return { current, previous: previous.filter((k) => k.id !== current?.id) };
}

/** The ids of every key in a keyring, current first. */
export function keyIds(keyring: Keyring): string[] {
  return [keyring.current, ...keyring.previous].filter((k): k is EncryptionKey => k !== null).map((k) => k.id);
}

/**
 * The key with this id, or the refusal that says what to configure: ENCRYPTION_KEY_REQUIRED when no key
 * is configured at all, ENCRYPTION_KEY_MISMATCH when the configured keys are others. `what` names the data.
 */
export function keyFor(keyring: Keyring, keyId: string, what: string): EncryptionKey {
  const key = [keyring.current, ...keyring.previous].find((k) => k?.id === keyId);
  if (key) return key;
  const configured = keyIds(keyring);
  if (configured.length === 0) {
    throw new OrchestratorError(
      'ENCRYPTION_KEY_REQUIRED',
      `${what} is encrypted (key id ${keyId}) and no encryption key is configured. Set MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE to the file of the key with id ${keyId} (task-orchestrator setup encryption printed the id when it created the key), then try again. Nothing was changed.`,
      { key_id: keyId },
    );
  }
  throw new OrchestratorError(
    'ENCRYPTION_KEY_MISMATCH',
    `${what} is encrypted with key id ${keyId}, but the key configured is ${configured[0]}${configured.length > 1 ? ` (and for reading ${configured.slice(1).join(', ')})` : ''}. Configure the key with id ${keyId}: as MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE, or, when changing keys, in MCP_TASK_ORCHESTRATOR_ENCRYPTION_PREVIOUS_KEY_FILES and run task-orchestrator rotate-key. Nothing was changed.`,
    { key_id: keyId, configured_key_ids: configured },
  );
}

/**
 * IVs are cut from a pool of random bytes refilled 512 IVs at a time: one call to the system's random
 * source costs as much as the encryption of a short text (about 6 µs), and a write encrypts dozens.
 * Each IV is used once, at once (createCipheriv copies it).
 */
const ivPool = Buffer.alloc(IV_BYTES * 512);
let ivPoolUsed = ivPool.length;

function freshIv(): Buffer {
  if (ivPoolUsed === ivPool.length) {
    randomFillSync(ivPool);
    ivPoolUsed = 0;
  }
  ivPoolUsed += IV_BYTES;
  return ivPool.subarray(ivPoolUsed - IV_BYTES, ivPoolUsed);
}

/** Encrypts one text under `key`, bound to `context` (see the module comment). */
export function encryptText(plain: string, key: EncryptionKey, context: string): string {
  const iv = freshIv();
  const cipher = createCipheriv('aes-256-gcm', key.fieldKey, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${ENVELOPE_PREFIX}${key.id}:${iv.toString('base64url')}:${body.toString('base64url')}`;
}

/** Whether `text` has the shape of an envelope (it may still fail to decrypt). */
export function isEnvelope(text: string): boolean {
  return text.startsWith(ENVELOPE_PREFIX) && ENVELOPE.test(text);
}

/** The key id an envelope names, or null for a text that is not one. */
export function envelopeKeyId(text: string): string | null {
  return text.startsWith(ENVELOPE_PREFIX) ? (ENVELOPE.exec(text)?.[1] ?? null) : null;
}

/**
 * The text an envelope holds. Refused: no key configured (ENCRYPTION_KEY_REQUIRED), another key
 * (ENCRYPTION_KEY_MISMATCH), and a text that is not a well-formed envelope or fails authentication:
 * changed or damaged after it was written, or moved from another `context` (STORE_CORRUPT).
 */
export function decryptText(envelope: string, keyring: Keyring, context: string, what: string): string {
  const parts = ENVELOPE.exec(envelope);
  if (!parts) throw corrupt(what, 'it is not a well-formed encrypted text (enc:v1:<key id>:<iv>:<data>)', null);
  const [, keyId, ivText, bodyText] = parts as unknown as [string, string, string, string];
  const key = keyFor(keyring, keyId, what);
  const iv = canonicalBase64url(ivText);
  const body = canonicalBase64url(bodyText);
  if (!iv || !body || body.length < TAG_BYTES) throw corrupt(what, 'its encoding was altered', keyId);
  const decipher = createDecipheriv('aes-256-gcm', key.fieldKey, iv);
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw corrupt(what, 'its authentication tag does not match: it was changed or damaged after it was written, or copied from another place', keyId);
  }
}

/**
 * Decoded bytes, or null when the text is not the one encoding of them. Node's decoder ignores the unused
 * low bits of the last character, so a changed character could otherwise decode to the same bytes and
 * go unnoticed; requiring the canonical form makes every change of the text a refusal.
 */
function canonicalBase64url(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

function corrupt(what: string, reason: string, keyId: string | null): OrchestratorError {
  return new OrchestratorError('STORE_CORRUPT', `${what} cannot be decrypted: ${reason}. It is kept as it is; bring it back from a backup (task-orchestrator restore, or doctor --fix).`, {
    reason,
    ...(keyId ? { key_id: keyId } : {}),
  });
}

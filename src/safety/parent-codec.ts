import type { HistoryEvent } from '../domain/history.js';
import type { IdempotencyRecord, LostResults, ParentTask, Subtask } from '../domain/model.js';
import { OrchestratorError } from '../domain/errors.js';
import { titleFrom } from '../domain/plan.js';
import { decryptText, encryptText, ENVELOPE_PREFIX, envelopeKeyId, keyFor, type EncryptionKey, type Keyring } from './encryption.js';

/**
 * A parent as stored with encryption at rest: the same shape as a clear one (so parseTaskFile and every
 * listing of ids and statuses work on it unchanged), with every text a person or an assistant wrote in
 * an envelope (encryption.ts), and a mark naming the key. What stays clear, so that status queries need
 * no key: ids, handles, statuses, times, roles (specialist_type), dependencies, revision, leases, owners,
 * file paths (detailed_work_file), artifact_type, hashes of idempotency keys, and fields this version does
 * not know (kept as they are).
 *
 * Encrypted: the parent's description, context and title; each subtask's title, description,
 * estimated_effort, results, artifacts, revision_notes, blocked_reason, detailed_work_digest (a hash of
 * the detailed work would let a guess be confirmed) and the results and artifacts of lost_results; each
 * history event's note; each remembered idempotency reply (it holds titles), as `{ "enc": envelope }`.
 *
 * The whole parent is in one state, marked by `encryption`: a parent is converted in one write, so a
 * parent is never half encrypted, and a text that merely looks like an envelope in a clear parent (an
 * assistant can write anything) is never taken for one.
 */

/** The mark on an encrypted parent. */
export interface EncryptionMark {
  /** The envelope format of its texts. */
  envelope: 'enc:v1';
  key_id: string;
}

export const MARK_FIELD = 'encryption';
const ENVELOPE_FORMAT = ENVELOPE_PREFIX.slice(0, -1) as EncryptionMark['envelope'];

type Marked = ParentTask & { [MARK_FIELD]?: unknown };

/** Whether a parent is stored encrypted (has the mark). */
export function isEncrypted(parent: ParentTask): boolean {
  return (parent as Marked)[MARK_FIELD] !== undefined;
}

/** The key id of an encrypted parent; null for a clear one. */
export function parentKeyId(parent: ParentTask): string | null {
  return isEncrypted(parent) ? markOf(parent).key_id : null;
}

/** Whether encryptParent would change this parent: clear, or encrypted with a key other than the current one. */
export function needsEncryption(parent: ParentTask, keyring: Keyring): boolean {
  return keyring.current !== null && parentKeyId(parent) !== keyring.current.id;
}

/** Whether an encrypted parent was written with a key other than the current one (rotate-key's work). */
export function needsRotation(parent: ParentTask, keyring: Keyring): boolean {
  const keyId = parentKeyId(parent);
  return keyId !== null && keyId !== keyring.current?.id;
}

/**
 * The parent encrypted with the keyring's current key. Already so: the same object back (resumable
 * conversions skip it); encrypted with an older key of the keyring: decrypted and encrypted again. A
 * parent without a title gets the one parseTaskFile would derive, since derived from the ciphertext it
 * would be garbage. (A store encrypts through one ParentCodec, which remembers texts: see there.)
 */
export function encryptParent(parent: ParentTask, keyring: Keyring): ParentTask {
  return new ParentCodec(keyring, { cacheChars: 0 }).encrypt(parent);
}

/**
 * The parent in clear. A clear parent is returned as it is (the same object). Refused with nothing
 * changed: ENCRYPTION_KEY_REQUIRED or ENCRYPTION_KEY_MISMATCH when its key is not in the keyring;
 * STORE_CORRUPT when a text fails authentication or is not encrypted with the parent's key.
 */
export function decryptParent(parent: ParentTask, keyring: Keyring): ParentTask {
  return new ParentCodec(keyring, { cacheChars: 0 }).decrypt(parent);
}

/**
 * encryptParent and decryptParent for a store: one per process and keyring. It remembers the texts it
 * decrypted and encrypted (a bounded cache, 8 million characters by default), so that a parent read and
 * written again costs a cipher operation per text that changed, not per text: each write of a typical
 * parent changes two or three of its fifty texts. A text unchanged keeps the envelope it had on disk,
 * which shows an observer of the files which texts changed between two writes, as the clear statuses
 * and times already do; never what they say.
 */
export class ParentCodec {
  readonly #cache: TextCache | null;

  constructor(
    readonly keyring: Keyring,
    options: { cacheChars?: number } = {},
  ) {
    const chars = options.cacheChars ?? 8_000_000;
    this.#cache = chars > 0 ? new TextCache(chars) : null;
  }

  /** See encryptParent. */
  encrypt(parent: ParentTask): ParentTask {
    const key = this.keyring.current;
    if (!key) throw new OrchestratorError('ENCRYPTION_KEY_REQUIRED', `No encryption key is configured to encrypt task ${parent.parent_task_id} with. Set MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE (task-orchestrator setup encryption creates a key file).`);
    if (parentKeyId(parent) === key.id) return parent;
    const clear = this.decrypt(parent);
    const titled = clear.title === undefined ? { ...clear, title: titleFrom(clear.description) } : clear;
    const encrypted = mapTexts(titled, encryptingWith(key, this.#cache));
    return { ...encrypted, [MARK_FIELD]: { envelope: ENVELOPE_FORMAT, key_id: key.id } satisfies EncryptionMark } as ParentTask;
  }

  /** What a store writes: encrypted with the current key when there is one, else in clear (encryption off, or being undone). */
  forStorage(parent: ParentTask): ParentTask {
    return this.keyring.current ? this.encrypt(parent) : this.decrypt(parent);
  }

  /** See decryptParent. */
  decrypt(parent: ParentTask): ParentTask {
    if (!isEncrypted(parent)) return parent;
    const mark = markOf(parent);
    const key = keyFor(this.keyring, mark.key_id, `task ${parent.parent_task_id}`);
    const { [MARK_FIELD]: _mark, ...rest } = parent as Marked;
    return mapTexts(rest as ParentTask, decryptingWith(key, this.#cache));
  }
}

/**
 * Envelopes and their texts, both ways, the oldest dropped first once the characters held pass `maxChars`
 * (first in, first out: a text still in use is simply encrypted or decrypted again, and remembered anew). Only what was authenticated (decrypted) or made here (encrypted) is ever put in, keyed by
 * the context, so a hit is exactly what the cipher would have answered.
 */
class TextCache {
  readonly #sealed = new Map<string, string>();
  readonly #opened = new Map<string, string>();
  #chars = 0;

  constructor(private readonly maxChars: number) {}

  sealed(keyId: string, context: string, plain: string): string | undefined {
    return this.#hit(this.#sealed, `${keyId}\u0000${context}\u0000${plain}`);
  }

  opened(context: string, envelope: string): string | undefined {
    return this.#hit(this.#opened, `${context}\u0000${envelope}`);
  }

  remember(keyId: string, context: string, plain: string, envelope: string): void {
    const size = 2 * (context.length + plain.length + envelope.length);
    if (size > this.maxChars / 16) return; // one huge text must not push everything else out
    this.#put(this.#sealed, `${keyId}\u0000${context}\u0000${plain}`, envelope);
    this.#put(this.#opened, `${context}\u0000${envelope}`, plain);
    while (this.#chars > this.maxChars) this.#evictOldest();
  }

  #hit(map: Map<string, string>, key: string): string | undefined {
    return map.get(key);
  }

  #put(map: Map<string, string>, key: string, value: string): void {
    const old = map.get(key);
    if (old !== undefined) {
      this.#chars -= key.length + old.length;
      map.delete(key);
    }
    map.set(key, value);
    this.#chars += key.length + value.length;
  }

  #evictOldest(): void {
    for (const map of [this.#sealed, this.#opened]) {
      const first = map.entries().next();
      if (first.done) continue;
      const [key, value] = first.value;
      map.delete(key);
      this.#chars -= key.length + value.length;
    }
  }
}

function markOf(parent: ParentTask): EncryptionMark {
  const mark = (parent as Marked)[MARK_FIELD] as Partial<EncryptionMark> | null;
  const id = parent.parent_task_id;
  if (typeof mark !== 'object' || mark === null || typeof mark.key_id !== 'string' || !/^[0-9a-f]{16}$/.test(mark.key_id) || typeof mark.envelope !== 'string') {
    throw new OrchestratorError('STORE_CORRUPT', `task ${id}: its "${MARK_FIELD}" field is not {envelope, key_id}, so its encrypted texts cannot be read. It is kept as it is; bring it back from a backup.`, { parent_task_id: id });
  }
  if (mark.envelope !== ENVELOPE_FORMAT) {
    throw new OrchestratorError('UNSUPPORTED_VERSION', `task ${id} is encrypted in format ${mark.envelope}, which this server does not know (it knows ${ENVELOPE_FORMAT}); upgrade task-orchestrator to read it.`, { parent_task_id: id, envelope: mark.envelope });
  }
  return mark as EncryptionMark;
}

/** How one text is converted: `context` binds the ciphertext to its place, `what` names it in messages. */
interface TextCodec {
  text(value: string, context: string, what: string): string;
  reply(value: Record<string, unknown>, context: string, what: string): Record<string, unknown>;
}

function encryptingWith(key: EncryptionKey, cache: TextCache | null): TextCodec {
  const text = (value: string, context: string) => {
    const known = cache?.sealed(key.id, context, value);
    if (known !== undefined) return known;
    const envelope = encryptText(value, key, context);
    cache?.remember(key.id, context, value, envelope);
    return envelope;
  };
  return {
    text,
    reply: (value, context) => ({ enc: text(JSON.stringify(value), context) }),
  };
}

function decryptingWith(key: EncryptionKey, cache: TextCache | null): TextCodec {
  const ring: Keyring = { current: key, previous: [] };
  const ownPrefix = `${ENVELOPE_PREFIX}${key.id}:`;
  const text = (value: string, context: string, what: string) => {
    // Every text of the parent is in its key: another key id is a text put there by hand, not one we wrote.
    // (A prefix test: the envelope's full shape is checked when it is decrypted; a remembered one was.)
    if (!value.startsWith(ownPrefix)) {
      throw new OrchestratorError('STORE_CORRUPT', `${what} is not encrypted with the key of its task (${key.id}): the file was changed by hand or damaged. It is kept as it is; bring it back from a backup.`, { key_id: key.id });
    }
    const known = cache?.opened(context, value);
    if (known !== undefined) return known;
    const plain = decryptText(value, ring, context, what);
    cache?.remember(key.id, context, plain, value);
    return plain;
  };
  return {
    text,
    reply: (value, context, what) => {
      if (typeof value.enc !== 'string') throw new OrchestratorError('STORE_CORRUPT', `${what} is not an encrypted reply ({"enc": ...}). It is kept as it is; bring it back from a backup.`);
      return JSON.parse(text(value.enc, context, what)) as Record<string, unknown>;
    },
  };
}

/**
 * The parent with every sensitive text converted, and nothing else touched: one walk for both
 * directions, so that what is encrypted and what is decrypted cannot drift apart. A field absent stays
 * absent, and null stays null.
 */
function mapTexts(parent: ParentTask, codec: TextCodec): ParentTask {
  const id = parent.parent_task_id;
  const place = (...parts: string[]) => JSON.stringify([id, ...parts]);
  const field = (name: string, value: string) => codec.text(value, place(name), `task ${id} ${name}`);
  return {
    ...parent,
    description: field('description', parent.description),
    context: field('context', parent.context),
    ...(parent.title !== undefined ? { title: field('title', parent.title) } : {}),
    subtasks: parent.subtasks.map((s) => mapSubtask(s, codec, place, id)),
    ...(parent.history ? { history: parent.history.map((e) => mapEvent(e, codec, place, id)) } : {}),
    ...(parent.idempotency ? { idempotency: parent.idempotency.map((r) => mapReply(r, codec, place, id)) } : {}),
  };
}

type Place = (...parts: string[]) => string;

function mapSubtask(subtask: Subtask, codec: TextCodec, place: Place, parentId: string): Subtask {
  const sid = subtask.task_id;
  const one = (name: string, value: string) => codec.text(value, place('subtask', sid, name), `task ${parentId} subtask ${sid} ${name}`);
  const maybe = (name: string, value: string | null | undefined) => (typeof value === 'string' ? one(name, value) : value);
  const list = (name: string, values: string[]) => values.map((v) => one(name, v));
  const out: Subtask = {
    ...subtask,
    title: one('title', subtask.title),
    description: one('description', subtask.description),
    estimated_effort: one('estimated_effort', subtask.estimated_effort),
    results: maybe('results', subtask.results) as string | null,
    artifacts: list('artifacts', subtask.artifacts),
  };
  if (subtask.revision_notes !== undefined) out.revision_notes = list('revision_notes', subtask.revision_notes);
  if (subtask.blocked_reason !== undefined) out.blocked_reason = maybe('blocked_reason', subtask.blocked_reason);
  if (subtask.detailed_work_digest !== undefined) out.detailed_work_digest = maybe('detailed_work_digest', subtask.detailed_work_digest);
  if (subtask.lost_results !== undefined) out.lost_results = subtask.lost_results.map((r) => mapLost(r, codec, place, parentId, sid));
  return out;
}

function mapLost(lost: LostResults, codec: TextCodec, place: Place, parentId: string, sid: string): LostResults {
  const one = (name: string, value: string) => codec.text(value, place('subtask', sid, 'lost_results', lost.agent_id, lost.at, name), `task ${parentId} subtask ${sid} lost results of ${lost.agent_id} ${name}`);
  // parseTaskFile checks only agent_id of these notes: a hand-edited one may lack the others (kept as they are).
  const out: LostResults = { ...lost };
  if (typeof lost.results === 'string') out.results = one('results', lost.results);
  if (Array.isArray(lost.artifacts)) out.artifacts = lost.artifacts.map((a) => (typeof a === 'string' ? one('artifacts', a) : a));
  return out;
}

function mapEvent(event: HistoryEvent, codec: TextCodec, place: Place, parentId: string): HistoryEvent {
  if (event.note === undefined) return event;
  const context = place('history', event.task_id, String(event.revision), event.at, 'note');
  return { ...event, note: codec.text(event.note, context, `task ${parentId} history note of ${event.task_id} at revision ${event.revision}`) };
}

function mapReply(record: IdempotencyRecord, codec: TextCodec, place: Place, parentId: string): IdempotencyRecord {
  return { ...record, reply: codec.reply(record.reply, place('idempotency', record.key_sha256, 'reply'), `task ${parentId} remembered reply for ${record.task_id}`) };
}

/**
 * Detailed-work documents: the whole text in one envelope and a newline, bound to the document's path
 * (relative to .task_orchestrator/, as the subtask names it), which both stores share.
 */
export function encryptDocument(text: string, keyring: Keyring, relativePath: string): string {
  const key = keyring.current;
  if (!key) throw new OrchestratorError('ENCRYPTION_KEY_REQUIRED', `No encryption key is configured to encrypt ${relativePath} with. Set MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE.`);
  if (isEncryptedDocument(text)) {
    if (envelopeKeyId(text.trimEnd()) === key.id) return text;
    text = decryptDocument(text, keyring, relativePath);
  }
  return `${encryptText(text, key, documentContext(relativePath))}\n`;
}

/**
 * A document's text. One that does not start with the envelope prefix is clear (written before
 * encryption, or by a store without it) and returned as it is; one that does is decrypted, and refused if
 * it cannot be. A document cannot carry a mark as a parent does, so a clear document whose text begins
 * with "enc:v1:" is taken for an encrypted one and refused (STORE_CORRUPT): safer than reading a damaged
 * ciphertext as text.
 */
export function decryptDocument(stored: string, keyring: Keyring, relativePath: string): string {
  if (!isEncryptedDocument(stored)) return stored;
  const envelope = stored.endsWith('\n') ? stored.slice(0, -1) : stored;
  return decryptText(envelope, keyring, documentContext(relativePath), `document ${relativePath}`);
}

export function isEncryptedDocument(stored: string): boolean {
  return stored.startsWith(ENVELOPE_PREFIX);
}

/** The key id of an encrypted document, null for a clear one (or one too damaged to name its key). */
export function documentKeyId(stored: string): string | null {
  return isEncryptedDocument(stored) ? envelopeKeyId(stored.trimEnd()) : null;
}

function documentContext(relativePath: string): string {
  return JSON.stringify(['document', relativePath]);
}

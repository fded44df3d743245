import type { IdempotencyRecord, ParentTask } from './model.js';
import { hasControlChars } from './control-chars.js';
import { fail, ok, type Check } from './errors.js';

/**
 * Idempotency keys: a call retried with the same key and the same arguments gets the first reply and
 * changes nothing; the same key with other arguments is refused (IDEMPOTENCY_CONFLICT). Keys are kept
 * KEY_RETENTION_MS, and at most REPLIES_PER_PARENT replies per parent (plan keys: PLAN_KEYS_KEPT files).
 */

export const IDEMPOTENCY_KEY_MAX = 200;
/** A day: longer than any client's retry loop, short enough that the records stay few. */
export const KEY_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Replies kept on one parent: a retry older than the newest 100 completions of its task is rare, and still a harmless repeat. */
export const REPLIES_PER_PARENT = 100;
/** plan_task key files kept in the project at most, the oldest removed first. */
export const PLAN_KEYS_KEPT = 10_000;


/** The key a call named, or null. */
export function checkIdempotencyKey(raw: unknown): Check<string | null> {
  if (raw === undefined || raw === null || raw === '') return ok(null);
  if (typeof raw !== 'string') return fail('INVALID_INPUT', `idempotency_key must be text, got ${typeof raw}. Pass a unique string per logical call (a UUID, say), the same on every retry of it.`);
  if (raw.length > IDEMPOTENCY_KEY_MAX) return fail('INVALID_INPUT', `idempotency_key is ${raw.length} characters long; at most ${IDEMPOTENCY_KEY_MAX} are accepted. A UUID is enough.`);
  if (hasControlChars(raw)) return fail('INVALID_INPUT', 'idempotency_key contains control characters. Use a plain string such as a UUID.');
  return ok(raw);
}

/** JSON with object keys sorted and undefined fields left out: equal arguments give equal text, whatever their order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const isLive = (record: Pick<IdempotencyRecord, 'at'>, now: Date) => now.getTime() - Date.parse(record.at) < KEY_RETENTION_MS;

/**
 * What a call with this key gets: the first reply (same arguments), a conflict (other arguments), or
 * null when the key is new (or expired) on this parent.
 */
export function replayFor(parent: ParentTask, keySha256: string, argsSha256: string, now: Date): Check<Record<string, unknown> | null> {
  const record = parent.idempotency?.find((r) => r.key_sha256 === keySha256 && isLive(r, now));
  if (!record) return ok(null);
  if (record.args_sha256 === argsSha256) return ok(record.reply);
  return fail('IDEMPOTENCY_CONFLICT', conflictMessage(record.at, `subtask ${record.task_id}`), { first_call_at: record.at, task_id: record.task_id });
}

export function conflictMessage(firstAt: string, what: string): string {
  return `This idempotency_key was used at ${firstAt} for a call with different arguments (${what}). A retry must repeat the call exactly; for a new call, use a new key. Nothing was changed.`;
}

/** The parent with one more reply remembered; expired ones and the oldest beyond REPLIES_PER_PARENT dropped. */
export function rememberReply(parent: ParentTask, record: IdempotencyRecord, now: Date): ParentTask {
  const kept = (parent.idempotency ?? []).filter((r) => r.key_sha256 !== record.key_sha256 && isLive(r, now));
  return { ...parent, idempotency: [...kept, record].slice(-REPLIES_PER_PARENT) };
}

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Check } from '../../src/domain/errors.js';
import { canonicalJson, checkIdempotencyKey, KEY_RETENTION_MS, rememberReply, replayFor, REPLIES_PER_PARENT } from '../../src/domain/idempotency.js';
import { parentWith, subtask } from './builders.js';

const T0 = new Date('2025-06-01T12:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const record = (key: string, args = 'args-1', at = T0) => ({ key_sha256: key, args_sha256: args, at: at.toISOString(), task_id: 'task_0123456789.1', reply: { status: 'completed', key } });

function value<T>(check: Check<T>): T {
  if (!check.ok) assert.fail(`expected success, got ${check.code}: ${check.message}`);
  return check.value;
}

describe('idempotency keys', () => {
  test('canonical JSON ignores key order and undefined fields', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ y: 2, x: undefined, w: 'z' }] }), canonicalJson({ a: [{ w: 'z', y: 2 }], b: 1 }));
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: 2 }));
  });

  test('a key: bounded text without control characters', () => {
    assert.equal(value(checkIdempotencyKey(undefined)), null);
    assert.equal(value(checkIdempotencyKey('3b1c')), '3b1c');
    assert.equal(checkIdempotencyKey('x'.repeat(201)).ok, false);
    assert.equal(checkIdempotencyKey('a\nb').ok, false);
    assert.equal(checkIdempotencyKey(5).ok, false);
  });

  test('same key and arguments: the first reply; other arguments: IDEMPOTENCY_CONFLICT; after 24 h: a new key', () => {
    const parent = rememberReply(parentWith([subtask('task_0123456789.1')]), record('k1'), T0);
    assert.deepEqual(value(replayFor(parent, 'k1', 'args-1', later(1000))), { status: 'completed', key: 'k1' });
    const conflict = replayFor(parent, 'k1', 'args-2', later(1000));
    assert.equal(!conflict.ok && conflict.code, 'IDEMPOTENCY_CONFLICT');
    assert.equal(value(replayFor(parent, 'k2', 'args-1', later(1000))), null);
    assert.equal(value(replayFor(parent, 'k1', 'args-2', later(KEY_RETENTION_MS))), null);
  });

  test('replies do not grow without bound: expired ones and the oldest beyond the cap are dropped', () => {
    let parent = parentWith([subtask('task_0123456789.1')]);
    parent = rememberReply(parent, record('old'), T0);
    parent = rememberReply(parent, record('new', 'a', later(KEY_RETENTION_MS)), later(KEY_RETENTION_MS));
    assert.deepEqual(parent.idempotency?.map((r) => r.key_sha256), ['new']);
    for (let i = 0; i < REPLIES_PER_PARENT + 5; i++) parent = rememberReply(parent, record(`k${i}`), T0);
    assert.equal(parent.idempotency?.length, REPLIES_PER_PARENT);
    assert.equal(parent.idempotency?.at(-1)?.key_sha256, `k${REPLIES_PER_PARENT + 4}`);
  });
});

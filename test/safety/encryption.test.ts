import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { OrchestratorError } from '../../src/domain/errors.js';
import { decryptText, EncryptionKey, encryptText, envelopeKeyId, isEnvelope, keyFor, keyIdOf, keyringOf, NO_KEYS } from '../../src/safety/encryption.js';

const { key, bytes } = EncryptionKey.generate('test key');
const other = EncryptionKey.generate('other key').key;
const ring = keyringOf(key);

/** Runs `work` and returns the OrchestratorError code it threw. */
function codeOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof OrchestratorError, `expected an OrchestratorError, got ${String(error)}`);
    return error.code;
  }
  return 'no error';
}

describe('text envelopes', () => {
  test('round trip, for empty, long and non-ASCII texts', () => {
    for (const text of ['', 'x', 'Secret plan: ship on Friday 🚀\n\twith "quotes" and \\ backslashes', 'é'.repeat(100_000)]) {
      const envelope = encryptText(text, key, 'ctx');
      assert.ok(isEnvelope(envelope));
      assert.equal(decryptText(envelope, ring, 'ctx', 'a text'), text);
    }
  });

  test('the envelope is JSON-safe, names the key, and never holds the text', () => {
    const envelope = encryptText('the launch code is 1234', key, 'ctx');
    assert.match(envelope, /^enc:v1:[0-9a-f]{16}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    assert.equal(JSON.parse(JSON.stringify(envelope)), envelope);
    assert.equal(envelopeKeyId(envelope), key.id);
    assert.ok(!envelope.includes('launch'));
  });

  test('a fresh IV each time: the same text twice gives two different envelopes', () => {
    assert.notEqual(encryptText('same', key, 'ctx'), encryptText('same', key, 'ctx'));
  });

  test('every changed character of an envelope is refused, none gives a text back', () => {
    const envelope = encryptText('short secret', key, 'ctx');
    for (let i = 0; i < envelope.length; i++) {
      const flipped = `${envelope.slice(0, i)}${String.fromCharCode(envelope.charCodeAt(i) ^ 1)}${envelope.slice(i + 1)}`;
      const code = codeOf(() => decryptText(flipped, ring, 'ctx', 'a text'));
      assert.ok(['STORE_CORRUPT', 'ENCRYPTION_KEY_MISMATCH'].includes(code), `position ${i}: ${code}`);
    }
  });

  test('each base64url character replaced by every other one is refused (no ignored bits)', () => {
    const envelope = encryptText('a', key, 'ctx'); // 17 bytes with the tag: the last character carries unused bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const start = envelope.lastIndexOf(':') - 16; // the IV and the body
    for (let i = start; i < envelope.length; i++) {
      if (envelope[i] === ':') continue;
      for (const c of alphabet) {
        if (c === envelope[i]) continue;
        const changed = `${envelope.slice(0, i)}${c}${envelope.slice(i + 1)}`;
        assert.equal(codeOf(() => decryptText(changed, ring, 'ctx', 'a text')), 'STORE_CORRUPT', `position ${i} -> ${c}`);
      }
    }
  });

  test('truncated or extended envelopes are refused', () => {
    const envelope = encryptText('some text', key, 'ctx');
    for (const cut of [envelope.slice(0, -1), envelope.slice(0, -4), `${envelope}A`, `${envelope}AAAA`, envelope.slice(0, 30)]) {
      assert.equal(codeOf(() => decryptText(cut, ring, 'ctx', 'a text')), 'STORE_CORRUPT');
    }
  });

  test('an envelope moved to another context does not decrypt', () => {
    const envelope = encryptText('results of task A', key, '["task_a","results"]');
    assert.equal(codeOf(() => decryptText(envelope, ring, '["task_b","results"]', 'a text')), 'STORE_CORRUPT');
  });

  test('no key configured: ENCRYPTION_KEY_REQUIRED naming the key id needed', () => {
    const envelope = encryptText('x', key, 'ctx');
    assert.throws(() => decryptText(envelope, NO_KEYS, 'ctx', 'task t description'), (e: OrchestratorError) => {
      assert.equal(e.code, 'ENCRYPTION_KEY_REQUIRED');
      assert.match(e.message, new RegExp(key.id));
      assert.match(e.message, /MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE/);
      assert.deepEqual(e.data, { key_id: key.id });
      return true;
    });
  });

  test('another key: ENCRYPTION_KEY_MISMATCH naming the key found and the one configured', () => {
    const envelope = encryptText('x', key, 'ctx');
    assert.throws(() => decryptText(envelope, keyringOf(other), 'ctx', 'task t description'), (e: OrchestratorError) => {
      assert.equal(e.code, 'ENCRYPTION_KEY_MISMATCH');
      assert.match(e.message, new RegExp(`key id ${key.id}`));
      assert.match(e.message, new RegExp(`configured is ${other.id}`));
      assert.deepEqual(e.data, { key_id: key.id, configured_key_ids: [other.id] });
      return true;
    });
  });

  test('a keyring reads with its previous keys too', () => {
    const old = encryptText('written with the old key', key, 'ctx');
    assert.equal(decryptText(old, keyringOf(other, [key]), 'ctx', 'a text'), 'written with the old key');
    assert.equal(keyFor(keyringOf(other, [key]), key.id, 'x'), key);
  });
});

describe('keys', () => {
  test('the key id is stable, depends on the key, and is not the key', () => {
    assert.equal(EncryptionKey.fromBytes(bytes, 'again').id, key.id);
    assert.equal(keyIdOf(bytes), key.id);
    assert.notEqual(other.id, key.id);
    assert.ok(!bytes.toString('hex').includes(key.id));
  });

  test('printing or serialising a key never shows its bytes', () => {
    const shown = [inspect(key), JSON.stringify(key), String(JSON.stringify({ key }))].join(' ');
    for (const form of [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')]) assert.ok(!shown.includes(form));
    assert.match(inspect(key), new RegExp(key.id));
  });

  test('a key of the wrong size is refused', () => {
    assert.throws(() => EncryptionKey.fromBytes(Buffer.alloc(31), 'short'), RangeError);
  });
});

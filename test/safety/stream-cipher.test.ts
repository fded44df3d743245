import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OrchestratorError } from '../../src/domain/errors.js';
import { EncryptionKey, keyringOf, NO_KEYS, type Keyring } from '../../src/safety/encryption.js';
import { ChunkDecryptor, ChunkEncryptor, HEADER_BYTES } from '../../src/safety/stream-cipher.js';

const key = EncryptionKey.generate('stream key').key;
const CHUNK = 1024; // the smallest chunk size a reader accepts: many chunks from little data
const LABEL = 'test label';

/** Encrypts `plain`, pushed in pieces of the given sizes (cycled). */
function seal(plain: Buffer, pieces: number[] = [777]): Buffer {
  const enc = new ChunkEncryptor(key, LABEL, CHUNK);
  const out = [enc.header];
  for (let at = 0, i = 0; at < plain.length; i++) {
    const size = pieces[i % pieces.length]!;
    out.push(...enc.push(plain.subarray(at, at + size)));
    at += size;
  }
  out.push(enc.finish());
  return Buffer.concat(out);
}

function open(sealed: Buffer, keyring: Keyring = keyringOf(key), piece = 500): Buffer {
  const dec = new ChunkDecryptor(keyring, LABEL, 'the test stream');
  const out: Buffer[] = [];
  for (let at = 0; at < sealed.length; at += piece) out.push(...dec.push(sealed.subarray(at, at + piece)));
  out.push(dec.finish());
  return Buffer.concat(out);
}

function codeOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof OrchestratorError, String(error));
    return error.code;
  }
  return 'no error';
}

describe('chunked stream encryption', () => {
  test('round trip at and around chunk boundaries, whatever the piece sizes', () => {
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17]) {
      const plain = randomBytes(size);
      for (const pieces of [[1], [CHUNK], [333, 2048, 5]]) assert.ok(open(seal(plain, pieces), keyringOf(key), 97).equals(plain), `${size} in ${pieces}`);
    }
  });

  test('the output is the header, then chunk + 16-byte tag each; empty data still has its (marked) last chunk', () => {
    assert.equal(seal(randomBytes(3 * CHUNK)).length, HEADER_BYTES + 3 * (CHUNK + 16));
    assert.equal(seal(randomBytes(3 * CHUNK + 1)).length, HEADER_BYTES + 3 * (CHUNK + 16) + 1 + 16);
    assert.equal(seal(Buffer.alloc(0)).length, HEADER_BYTES + 16);
  });

  test('cut at a chunk boundary (the last chunk dropped): refused', () => {
    const sealed = seal(randomBytes(3 * CHUNK + 100));
    for (let chunks = 0; chunks <= 3; chunks++) assert.equal(codeOf(() => open(sealed.subarray(0, HEADER_BYTES + chunks * (CHUNK + 16)))), 'BACKUP_INVALID', `${chunks} chunks`);
  });

  test('two chunks swapped, a chunk repeated, every byte of the header flipped: refused', () => {
    const sealed = seal(randomBytes(3 * CHUNK + 100));
    const chunk = (i: number) => sealed.subarray(HEADER_BYTES + i * (CHUNK + 16), HEADER_BYTES + (i + 1) * (CHUNK + 16));
    const header = sealed.subarray(0, HEADER_BYTES);
    const rest = sealed.subarray(HEADER_BYTES + 3 * (CHUNK + 16));
    assert.equal(codeOf(() => open(Buffer.concat([header, chunk(1), chunk(0), chunk(2), rest]))), 'BACKUP_INVALID');
    assert.equal(codeOf(() => open(Buffer.concat([header, chunk(0), chunk(0), chunk(1), chunk(2), rest]))), 'BACKUP_INVALID');
    for (let i = 0; i < HEADER_BYTES; i++) {
      const damaged = Buffer.from(sealed);
      damaged[i]! ^= 0x01;
      assert.equal(codeOf(() => open(damaged)), 'BACKUP_INVALID', `header byte ${i}`);
    }
  });

  test('the same data twice gives different bytes (a fresh salt, so a fresh key, per stream)', () => {
    const plain = randomBytes(2000);
    assert.notDeepEqual(seal(plain).subarray(HEADER_BYTES), seal(plain).subarray(HEADER_BYTES));
  });

  test('another label (another purpose) cannot open it; no key and another key are refused by name', () => {
    const sealed = seal(randomBytes(100));
    const dec = new ChunkDecryptor(keyringOf(key), 'another label', 'x');
    assert.equal(codeOf(() => (dec.push(sealed), dec.finish())), 'BACKUP_INVALID');
    assert.equal(codeOf(() => open(sealed, NO_KEYS)), 'ENCRYPTION_KEY_REQUIRED');
    assert.equal(codeOf(() => open(sealed, keyringOf(EncryptionKey.generate().key))), 'ENCRYPTION_KEY_MISMATCH');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { OrchestratorError } from '../../src/domain/errors.js';
import type { ParentTask } from '../../src/domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../../src/domain/task-file.js';
import { EncryptionKey, encryptText, keyringOf, NO_KEYS } from '../../src/safety/encryption.js';
import { decryptDocument, decryptParent, documentKeyId, encryptDocument, encryptParent, isEncrypted, isEncryptedDocument, needsEncryption, needsRotation, ParentCodec, parentKeyId } from '../../src/safety/parent-codec.js';
import { LATER, NOW, parentWith, subtask } from '../unit/builders.js';
import { idMaker, makeParent, rng } from '../../bench/generate.js';

const key = EncryptionKey.generate('key A').key;
const newer = EncryptionKey.generate('key B').key;
const ring = keyringOf(key);
const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'python-v1');

/** A parent with every kind of text the codec must cover, each holding a marker word that must not appear encrypted. */
function fullParent(): ParentTask {
  return parentWith(
    [
      subtask('task_0123456789.1', {
        title: 'SECRET subtask title',
        description: 'SECRET subtask description',
        estimated_effort: 'SECRET 2 hours',
        status: 'completed',
        results: 'SECRET results',
        artifacts: ['SECRET/a.ts', 'SECRET/b.md'],
        completed_at: LATER,
        handle: 'step1',
        revision_notes: ['SECRET first attempt'],
        detailed_work_file: 'tasks/work/task_0123456789/task_0123456789.1-1.md',
        earlier_work_files: [],
        detailed_work_digest: 'SECRETdigest',
        lost_leases: [{ agent_id: 'agent-x', expires_at: NOW, lost_at: LATER }],
        lost_results: [{ agent_id: 'agent-x', at: LATER, next_action: 'continue', results: 'SECRET lost results', detailed_work_file: null, artifacts: ['SECRET/lost.ts'] }],
        updated_at: LATER,
      }),
      subtask('task_0123456789.2', { title: 'SECRET blocked one', status: 'blocked', blocked_reason: 'SECRET reason', dependencies: ['task_0123456789.1'], lease: null, active_owner: null }),
      subtask('task_0123456789.3', { description: '', blocked_reason: null, detailed_work_digest: null }),
    ],
    {
      description: 'SECRET parent description\nsecond line',
      context: 'SECRET context',
      title: 'SECRET parent description',
      revision: 7,
      updated_at: LATER,
      plan_key_sha256: 'a'.repeat(64),
      history: [
        { at: NOW, agent: null, task_id: 'task_0123456789', from: null, to: 'active', revision: 1, note: 'planned with 3 subtasks' },
        { at: LATER, agent: 'session-1', task_id: 'task_0123456789.1', from: 'active', to: 'completed', revision: 5, note: 'SECRET results' },
        { at: LATER, agent: 'session-1', task_id: 'task_0123456789.2', from: 'pending', to: 'active', revision: 6 },
      ],
      idempotency: [{ key_sha256: 'b'.repeat(64), args_sha256: 'c'.repeat(64), at: LATER, task_id: 'task_0123456789.1', reply: { task_id: 'task_0123456789.1', next_recommended_task: { title: 'SECRET next title' }, next_step: 'SECRET step' } }],
    },
  );
}

function pythonParents(): ParentTask[] {
  return readdirSync(FIXTURES).map((name) => {
    const parsed = parseTaskFile(readFileSync(path.join(FIXTURES, name), 'utf8'));
    assert.ok(parsed.ok);
    return parsed.value;
  });
}

function generatedParents(): ParentTask[] {
  const random = rng(13);
  const nextId = idMaker(random);
  return Array.from({ length: 20 }, (_, i) => makeParent(random, i % 2 ? 'active' : 'archived', nextId()));
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

describe('parent codec', () => {
  test('decrypt(encrypt(p)) equals p: full parent, builders, Python-era files, generated parents', () => {
    const parents = [fullParent(), parentWith([subtask('p.1')], { title: 'Build the thing' }), ...pythonParents(), ...generatedParents()];
    for (const parent of parents) {
      const encrypted = encryptParent(parent, ring);
      assert.ok(isEncrypted(encrypted));
      assert.deepEqual(decryptParent(encrypted, ring), parent, parent.parent_task_id);
    }
  });

  test('a hand-edited file with incomplete lost results round-trips instead of crashing', () => {
    const parsed = parseTaskFile(serializeTaskFile(parentWith([subtask('p.1', { lost_results: [{ agent_id: 'a' } as never] })], { title: 't' })));
    assert.ok(parsed.ok);
    assert.deepEqual(decryptParent(encryptParent(parsed.value, ring), ring), parsed.value);
  });

  test('no sensitive text survives in the serialized encrypted file, and it parses as a task file', () => {
    const encrypted = encryptParent(fullParent(), ring);
    const text = serializeTaskFile(encrypted);
    assert.ok(!text.includes('SECRET'), text.split('\n').find((l) => l.includes('SECRET')));
    assert.ok(!text.includes('planned with'));
    const parsed = parseTaskFile(text);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    assert.deepEqual(decryptParent(parsed.value, ring), { ...fullParent(), version: '2.0' });
  });

  test('what status queries need stays clear', () => {
    const parent = fullParent();
    const encrypted = encryptParent(parent, ring);
    assert.equal(encrypted.parent_task_id, parent.parent_task_id);
    assert.equal(encrypted.revision, 7);
    assert.deepEqual(encrypted.subtasks.map((s) => [s.task_id, s.status, s.specialist_type, s.dependencies, s.handle, s.detailed_work_file]), parent.subtasks.map((s) => [s.task_id, s.status, s.specialist_type, s.dependencies, s.handle, s.detailed_work_file]));
    assert.deepEqual(encrypted.history!.map((e) => [e.at, e.task_id, e.from, e.to, e.revision]), parent.history!.map((e) => [e.at, e.task_id, e.from, e.to, e.revision]));
    assert.equal(encrypted.subtasks[2]!.blocked_reason, null);
    assert.equal(encrypted.subtasks[0]!.lost_results![0]!.agent_id, 'agent-x');
    assert.equal(encrypted.idempotency![0]!.key_sha256, 'b'.repeat(64));
  });

  test('a parent without a title gets the derived one, encrypted (parseTaskFile would derive it from ciphertext)', () => {
    const untitled = parentWith([subtask('p.1')]);
    const encrypted = encryptParent(untitled, ring);
    const parsed = parseTaskFile(serializeTaskFile(encrypted));
    assert.ok(parsed.ok);
    assert.equal(decryptParent(parsed.value, ring).title, 'Build the thing');
  });

  test('idempotent: an encrypted parent encrypted again is the same object; a clear one decrypted too', () => {
    const encrypted = encryptParent(fullParent(), ring);
    assert.equal(encryptParent(encrypted, ring), encrypted);
    const clear = fullParent();
    assert.equal(decryptParent(clear, ring), clear);
    assert.equal(decryptParent(clear, NO_KEYS), clear);
  });

  test('a clear text that looks like an envelope is never taken for one', () => {
    const lookalike = encryptText('x', key, 'elsewhere');
    const parent = parentWith([subtask('p.1', { results: lookalike })], { description: lookalike, title: 't' });
    assert.equal(decryptParent(parent, NO_KEYS), parent);
    assert.deepEqual(decryptParent(encryptParent(parent, ring), ring), parent);
  });

  test('rotation: needsRotation, then encrypting with the new key reads the old and writes the new', () => {
    const old = encryptParent(fullParent(), ring);
    const rotating = keyringOf(newer, [key]);
    assert.equal(needsRotation(old, ring), false);
    assert.equal(needsRotation(old, rotating), true);
    assert.equal(needsEncryption(old, rotating), true);
    const rotated = encryptParent(old, rotating);
    assert.equal(parentKeyId(rotated), newer.id);
    assert.equal(needsRotation(rotated, rotating), false);
    assert.deepEqual(decryptParent(rotated, keyringOf(newer)), fullParent());
    assert.equal(needsRotation(fullParent(), rotating), false);
    assert.equal(needsEncryption(fullParent(), NO_KEYS), false);
  });

  test('no key, or another key: refused naming the key ids', () => {
    const encrypted = encryptParent(fullParent(), ring);
    assert.equal(codeOf(() => decryptParent(encrypted, NO_KEYS)), 'ENCRYPTION_KEY_REQUIRED');
    assert.equal(codeOf(() => decryptParent(encrypted, keyringOf(newer))), 'ENCRYPTION_KEY_MISMATCH');
    assert.equal(codeOf(() => encryptParent(encrypted, keyringOf(newer))), 'ENCRYPTION_KEY_MISMATCH');
    assert.equal(codeOf(() => encryptParent(fullParent(), NO_KEYS)), 'ENCRYPTION_KEY_REQUIRED');
  });

  test('tampering is corruption: a changed text, a text swapped between fields or tasks, clear text slipped in, a damaged mark', () => {
    const encrypted = encryptParent(fullParent(), ring);
    const s0 = encrypted.subtasks[0]!;
    const withSubtask0 = (fields: Partial<typeof s0>) => ({ ...encrypted, subtasks: [{ ...s0, ...fields }, ...encrypted.subtasks.slice(1)] });
    const flip = (text: string) => `${text.slice(0, -3)}${text.at(-3) === 'A' ? 'B' : 'A'}${text.slice(-2)}`;
    const tampered: ParentTask[] = [
      { ...encrypted, description: flip(encrypted.description) },
      { ...encrypted, description: encrypted.context },
      withSubtask0({ results: encrypted.subtasks[1]!.title }),
      withSubtask0({ artifacts: [s0.artifacts[0]!, s0.revision_notes![0]!] }),
      { ...encrypted, description: 'plain text slipped in' },
      { ...encrypted, description: encryptText('another key, same place', newer, '["task_0123456789","description"]') },
      { ...encrypted, history: [encrypted.history![1]!, encrypted.history![0]!, encrypted.history![2]!].map((e, i) => ({ ...e, note: [encrypted.history![0]!.note, encrypted.history![1]!.note, undefined][i] })) as ParentTask['history'] },
      { ...encrypted, idempotency: [{ ...encrypted.idempotency![0]!, reply: { task_id: 'x' } }] },
      { ...encryptParent({ ...fullParent(), parent_task_id: 'task_9999999999' }, ring), parent_task_id: 'task_0123456789' },
      { ...encrypted, encryption: { envelope: 'enc:v1', key_id: 'zz' } } as ParentTask,
    ];
    for (const [i, parent] of tampered.entries()) assert.equal(codeOf(() => decryptParent(parent, ring)), 'STORE_CORRUPT', `case ${i}`);
    assert.equal(codeOf(() => decryptParent({ ...encrypted, encryption: { envelope: 'enc:v9', key_id: key.id } } as ParentTask, ring)), 'UNSUPPORTED_VERSION');
  });
});

describe('ParentCodec (a store\'s codec, remembering texts)', () => {
  test('read, change one text, write: only that text gets a new envelope, and it all reads back', () => {
    const codec = new ParentCodec(ring);
    const stored = encryptParent(fullParent(), ring); // written by another process: nothing remembered
    const read = codec.decrypt(stored);
    assert.deepEqual(read, fullParent());
    const changed = { ...read, subtasks: [read.subtasks[0]!, { ...read.subtasks[1]!, results: 'SECRET new results' }, read.subtasks[2]!] };
    const written = codec.encrypt(changed);
    assert.equal(written.description, stored.description);
    assert.deepEqual(written.subtasks[0], stored.subtasks[0]);
    assert.equal(written.subtasks[1]!.title, stored.subtasks[1]!.title);
    assert.notEqual(written.subtasks[1]!.results, stored.subtasks[1]!.results);
    assert.deepEqual(written.history, stored.history);
    assert.deepEqual(decryptParent(written, ring), changed);
    assert.deepEqual(new ParentCodec(ring).decrypt(written), changed);
  });

  test('what it remembers never lets damage or a moved text through', () => {
    const codec = new ParentCodec(ring);
    const stored = codec.encrypt(fullParent());
    assert.deepEqual(codec.decrypt(stored), fullParent()); // every envelope remembered now
    const flip = (text: string) => `${text.slice(0, -3)}${text.at(-3) === 'A' ? 'B' : 'A'}${text.slice(-2)}`;
    assert.equal(codeOf(() => codec.decrypt({ ...stored, description: flip(stored.description) })), 'STORE_CORRUPT');
    assert.equal(codeOf(() => codec.decrypt({ ...stored, description: stored.context })), 'STORE_CORRUPT');
    assert.equal(codeOf(() => codec.decrypt({ ...stored, title: stored.subtasks[0]!.title })), 'STORE_CORRUPT');
    assert.equal(codeOf(() => new ParentCodec(keyringOf(newer)).decrypt(stored)), 'ENCRYPTION_KEY_MISMATCH');
  });

  test('forStorage: encrypted with a current key; in clear without one (an old key only reads)', () => {
    assert.equal(parentKeyId(new ParentCodec(ring).forStorage(fullParent())), key.id);
    const encrypted = encryptParent(fullParent(), ring);
    const readOnly = new ParentCodec(keyringOf(null, [key]));
    assert.equal(isEncrypted(readOnly.forStorage(encrypted)), false);
    assert.deepEqual(readOnly.forStorage(encrypted), fullParent());
    const clear = fullParent();
    assert.equal(new ParentCodec(keyringOf(null)).forStorage(clear), clear);
  });

  test('a small cache still gives exact results', () => {
    const codec = new ParentCodec(ring, { cacheChars: 2_000 });
    for (const parent of generatedParents()) assert.deepEqual(codec.decrypt(codec.encrypt(parent)), parent);
  });
});

describe('document codec', () => {
  const file = 'tasks/work/task_0123456789/task_0123456789.1-1.md';
  const text = `# SECRET detailed work\n\n${'line of output\n'.repeat(2_000)}`;

  test('round trip; the stored form is one envelope line that holds no text', () => {
    const stored = encryptDocument(text, ring, file);
    assert.ok(isEncryptedDocument(stored));
    assert.equal(stored.split('\n').length, 2);
    assert.ok(!stored.includes('SECRET'));
    assert.equal(documentKeyId(stored), key.id);
    assert.equal(decryptDocument(stored, ring, file), text);
  });

  test('clear documents pass through; encrypting twice with the same key is a no-op; another key re-encrypts', () => {
    assert.equal(decryptDocument(text, ring, file), text);
    assert.equal(documentKeyId(text), null);
    const stored = encryptDocument(text, ring, file);
    assert.equal(encryptDocument(stored, ring, file), stored);
    const rotated = encryptDocument(stored, keyringOf(newer, [key]), file);
    assert.equal(documentKeyId(rotated), newer.id);
    assert.equal(decryptDocument(rotated, keyringOf(newer), file), text);
  });

  test('moved to another path, changed, wrong key or no key: refused', () => {
    const stored = encryptDocument(text, ring, file);
    assert.equal(codeOf(() => decryptDocument(stored, ring, 'tasks/work/other.md')), 'STORE_CORRUPT');
    assert.equal(codeOf(() => decryptDocument(`${stored.slice(0, 100)}x${stored.slice(101)}`, ring, file)), 'STORE_CORRUPT');
    assert.equal(codeOf(() => decryptDocument(stored.slice(0, 200), ring, file)), 'STORE_CORRUPT');
    assert.equal(codeOf(() => decryptDocument(stored, keyringOf(newer), file)), 'ENCRYPTION_KEY_MISMATCH');
    assert.equal(codeOf(() => decryptDocument(stored, NO_KEYS, file)), 'ENCRYPTION_KEY_REQUIRED');
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { BACKUP_FORMAT, countsOf, MANIFEST_NAME, type BackupManifest } from '../../src/domain/backup-manifest.js';
import { OrchestratorError } from '../../src/domain/errors.js';
import { BackupWriter, openBackup, verifyBackup, writeBackup, type BackupEntry } from '../../src/safety/backup-archive.js';
import { EncryptionKey, keyringOf } from '../../src/safety/encryption.js';
import { END_OF_ARCHIVE, tarEntry } from '../../src/safety/tar.js';

let dir: string;
const source = { store: 'file', description: '/projects/demo' };
const key = EncryptionKey.generate('archive key').key;
const otherKey = EncryptionKey.generate('other key').key;
let counter = 0;
const fresh = (suffix = '.tar.gz') => path.join(dir, `archive-${++counter}${suffix}`);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-backup-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small but real archive's entries: every kind, a long name (PAX), an empty entry, binary data. */
function sampleEntries(): { name: string; data: Buffer }[] {
  return [
    { name: 'tasks/active/task_0123456789.json', data: Buffer.from('{"parent_task_id":"task_0123456789","description":"Migrate the billing webhook"}\n') },
    { name: 'tasks/archive/task_9876543210.json', data: Buffer.from('{"parent_task_id":"task_9876543210"}\n') },
    { name: `documents/tasks/work/task_0123456789/${'long-segment-'.repeat(12)}/${'n'.repeat(120)}.md`, data: Buffer.from('# detailed work\n'.repeat(300)) },
    { name: 'roles/custom_roles.yaml', data: Buffer.alloc(0) },
    { name: 'roles/templates/tester.md', data: randomBytes(3000) },
    { name: `plan-keys/${'a'.repeat(64)}.json`, data: Buffer.from('{"args_sha256":"b","parent_task_id":"task_0123456789","at":"2025-01-01T00:00:00Z"}') },
  ];
}

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof OrchestratorError, `expected an OrchestratorError, got ${(error as Error)?.stack ?? String(error)}`);
    return error.code;
  }
  return 'no error';
}

async function readAll(file: string, keyring = keyringOf(null)): Promise<BackupEntry[]> {
  const backup = await openBackup(file, keyring);
  const out: BackupEntry[] = [];
  for await (const entry of backup.entries()) out.push(entry);
  return out;
}

/**
 * An archive made by hand, as a foreign or hostile program could: tar entries (any names, any type),
 * gzip'd with the header task-orchestrator writes, and a manifest listing what `listed` says.
 */
function craft(entries: { name: string; data: Buffer; type?: string }[], manifest: Partial<BackupManifest> | null = {}, listed = entries): Buffer {
  const full: BackupManifest = { ...manifestOf(listed), ...manifest };
  const parts: Buffer[] = manifest ? [tarEntry(MANIFEST_NAME, Buffer.from(JSON.stringify(full)), new Date())] : [];
  for (const e of entries) parts.push(e.type ? withType(tarEntry(e.name, e.data, new Date()), e.type) : tarEntry(e.name, e.data, new Date()));
  parts.push(END_OF_ARCHIVE);
  return gzipped(parts);
}

/** gzip with the fixed header task-orchestrator writes (no time, OS unknown). */
function gzipped(parts: Buffer[]): Buffer {
  const gz = gzipSync(Buffer.concat(parts));
  Buffer.from([0, 0, 0, 0, 0, 0xff]).copy(gz, 4);
  return gz;
}

/** A correct manifest for these entries. */
function manifestOf(listed: { name: string; data: Buffer }[]): BackupManifest {
  return {
    format: BACKUP_FORMAT,
    format_version: 1,
    created_at: '2025-06-01T12:00:00.000Z',
    generator: 'hand',
    source,
    counts: countsOf(listed.map((e) => e.name)),
    entries: listed.map((e) => ({ name: e.name, size: e.data.length, sha256: createHash('sha256').update(e.data).digest('hex') })),
  };
}

/** A tar header with another type flag, its checksum recomputed (a link, a folder...). */
function withType(entry: Buffer, type: string): Buffer {
  const out = Buffer.from(entry);
  out.write(type, 156, 1, 'latin1');
  out.fill(' ', 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return out;
}

async function place(bytes: Buffer, suffix = '.tar.gz'): Promise<string> {
  const file = fresh(suffix);
  await writeFile(file, bytes);
  return file;
}

describe('backup archive: writing and reading back', () => {
  test('1,000 entries come back in order, byte for byte, with their checksums and counts', async () => {
    const entries = Array.from({ length: 1_000 }, (_, i) => {
      const kind = i % 4;
      const name = kind === 0 ? `tasks/active/task_${String(i).padStart(10, '0')}.json` : kind === 1 ? `tasks/archive/task_${String(i).padStart(10, '0')}.json` : kind === 2 ? `documents/tasks/work/p${i}/s${i}-1.md` : `plan-keys/${createHash('sha256').update(String(i)).digest('hex')}.json`;
      return { name, data: i % 10 === 0 ? randomBytes(i * 7) : Buffer.from(JSON.stringify({ i, text: 'word '.repeat(i % 300) })) };
    });
    const file = fresh();
    const result = await writeBackup({ file, source }, entries);
    assert.deepEqual(result.manifest.counts, { parents_active: 250, parents_archived: 250, documents: 250, role_files: 0, plan_keys: 250 });
    assert.equal(result.bytes, (await stat(file)).size);
    const back = await readAll(file);
    assert.deepEqual(back.map((e) => e.name), entries.map((e) => e.name));
    for (const [i, e] of back.entries()) assert.ok(e.data.equals(entries[i]!.data), e.name);
    assert.deepEqual(back.slice(0, 4).map((e) => e.kind), ['parents_active', 'parents_archived', 'documents', 'plan_keys']);
    const manifest = await verifyBackup(file);
    assert.deepEqual(manifest.entries.map((e) => e.sha256), entries.map((e) => createHash('sha256').update(e.data).digest('hex')));
    assert.equal(manifest.source.store, 'file');
  });

  test('the manifest comes first and records format, time, source and counts', async () => {
    const file = fresh();
    const createdAt = new Date('2026-12-01T16:00:00.000Z');
    await writeBackup({ file, source, createdAt }, sampleEntries());
    const manifest = await verifyBackup(file);
    assert.equal(manifest.format, 'task-orchestrator-backup');
    assert.equal(manifest.format_version, 1);
    assert.equal(manifest.created_at, createdAt.toISOString());
    assert.match(manifest.generator, /^task-orchestrator /);
    assert.deepEqual(manifest.source, source);
    assert.deepEqual(manifest.counts, { parents_active: 1, parents_archived: 1, documents: 1, role_files: 2, plan_keys: 1 });
  });

  test('a plain archive is an ordinary .tar.gz (system tar lists and extracts it, long names included)', async (t) => {
    try {
      execFileSync('tar', ['--version'], { stdio: 'ignore' });
    } catch {
      t.skip('no tar on this machine');
      return;
    }
    const file = fresh();
    await writeBackup({ file, source }, sampleEntries());
    const listed = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listed, [MANIFEST_NAME, ...sampleEntries().map((e) => e.name)]);
    const out = path.join(dir, `extracted-${counter}`);
    await mkdir(out);
    execFileSync('tar', ['-xzf', file, '-C', out]);
    for (const e of sampleEntries().filter((x) => x.name.startsWith('tasks/') || x.name.startsWith('documents/'))) assert.ok((await readFile(path.join(out, e.name))).equals(e.data), e.name);
  });

  test('written durably and privately: mode 600, no temp or spool file left, an existing file never replaced', async () => {
    const sub = path.join(dir, 'clean');
    await mkdir(sub);
    const file = path.join(sub, 'b.tar.gz');
    await writeBackup({ file, source }, sampleEntries());
    assert.deepEqual(await readdir(sub), ['b.tar.gz']);
    if (process.platform !== 'win32') assert.equal((await stat(file)).mode & 0o777, 0o600);
    const before = await readFile(file);
    assert.equal(await codeOf(writeBackup({ file, source }, sampleEntries())), 'INVALID_INPUT');
    assert.ok((await readFile(file)).equals(before));
    assert.deepEqual(await readdir(sub), ['b.tar.gz']);
  });

  test('abort, or a refused entry, leaves nothing behind', async () => {
    const sub = path.join(dir, 'aborted');
    await mkdir(sub);
    const writer = await BackupWriter.create({ file: path.join(sub, 'x.tar.gz'), source });
    await writer.add('tasks/active/task_0123456789.json', 'x');
    assert.equal((await readdir(sub)).length, 1); // the spool
    await writer.abort();
    assert.deepEqual(await readdir(sub), []);
    for (const name of ['../escape.json', '/etc/passwd', 'tasks/active/../../x.json', 'roles\\a.yaml', 'manifest.json', 'tasks/active/sub/x.json', 'other/x']) {
      assert.equal(await codeOf(writeBackup({ file: path.join(sub, 'y.tar.gz'), source }, [{ name, data: 'x' }])), 'INVALID_INPUT', name);
    }
    assert.equal(await codeOf(writeBackup({ file: path.join(sub, 'y.tar.gz'), source }, [{ name: 'roles/a', data: 'x' }, { name: 'roles/a', data: 'y' }])), 'INVALID_INPUT');
    assert.deepEqual(await readdir(sub), []);
  });

  test('entries() checks again: a file changed after verification is refused as it is read', async () => {
    const file = fresh();
    await writeBackup({ file, source }, sampleEntries());
    const backup = await openBackup(file);
    const other = fresh();
    await writeBackup({ file: other, source }, sampleEntries().slice(0, 2));
    await writeFile(file, await readFile(other));
    const read = async () => {
      for await (const _ of backup.entries()) {
        // reading is enough
      }
    };
    assert.equal(await codeOf(read()), 'BACKUP_INVALID');
  });
});

describe('backup archive: damage and foreign archives are refused before anything is handed on', () => {
  let plain: Buffer;
  let encrypted: Buffer;
  before(async () => {
    const a = fresh();
    const b = fresh('.tar.gz.enc');
    await writeBackup({ file: a, source }, sampleEntries());
    await writeBackup({ file: b, source, key }, sampleEntries());
    plain = await readFile(a);
    encrypted = await readFile(b);
  });

  /** Offsets to damage: every byte of the first and last 64, and a spread through the middle. */
  const offsets = (length: number) => [...new Set([...Array.from({ length: 64 }, (_, i) => i), ...Array.from({ length: 64 }, (_, i) => length - 1 - i), ...Array.from({ length: 150 }, (_, i) => Math.floor((i * length) / 150))])].filter((o) => o >= 0 && o < length);

  for (const [name, original, keyring] of [['plain', () => plain, keyringOf(null)], ['encrypted', () => encrypted, keyringOf(key)]] as const) {
    test(`${name}: a flipped byte at any of ~280 offsets is refused (BACKUP_INVALID)`, async () => {
      const bytes = original();
      const file = fresh();
      for (const offset of offsets(bytes.length)) {
        const damaged = Buffer.from(bytes);
        damaged[offset]! ^= 0xff;
        await writeFile(file, damaged);
        assert.equal(await codeOf(verifyBackup(file, keyring)), 'BACKUP_INVALID', `offset ${offset} of ${bytes.length}`);
      }
    });

    test(`${name}: cut short anywhere, or extended, is refused`, async () => {
      const bytes = original();
      const file = fresh();
      for (const length of [0, 1, 9, 10, 43, 44, 100, Math.floor(bytes.length / 2), bytes.length - 16, bytes.length - 8, bytes.length - 1]) {
        await writeFile(file, bytes.subarray(0, length));
        assert.equal(await codeOf(verifyBackup(file, keyring)), 'BACKUP_INVALID', `cut to ${length} of ${bytes.length}`);
      }
      for (const extra of [Buffer.from([0]), Buffer.alloc(16), gzipSync(Buffer.alloc(1024))]) {
        await writeFile(file, Buffer.concat([bytes, extra]));
        assert.equal(await codeOf(verifyBackup(file, keyring)), 'BACKUP_INVALID', `extended by ${extra.length}`);
      }
    });
  }

  test('a gzip member appended to a plain archive is noticed (zeros after the end of the tar)', async () => {
    const file = await place(Buffer.concat([plain, gzipSync(Buffer.alloc(512))]));
    assert.equal(await codeOf(verifyBackup(file)), 'BACKUP_INVALID');
  });

  test('encrypted: no key refused with ENCRYPTION_KEY_REQUIRED, a wrong key with ENCRYPTION_KEY_MISMATCH, the text never visible', async () => {
    const file = await place(encrypted, '.enc');
    assert.equal(await codeOf(verifyBackup(file)), 'ENCRYPTION_KEY_REQUIRED');
    assert.equal(await codeOf(verifyBackup(file, keyringOf(otherKey))), 'ENCRYPTION_KEY_MISMATCH');
    assert.ok(!encrypted.includes(Buffer.from('billing')));
    assert.ok(!encrypted.includes(Buffer.from('manifest')));
    const backup = await openBackup(file, keyringOf(otherKey, [key]));
    assert.equal(backup.keyId, key.id);
    assert.equal((await readAll(file, keyringOf(key))).length, sampleEntries().length);
  });

  test('not an archive at all', async () => {
    for (const bytes of [Buffer.from('hello'), Buffer.from('{"format":"task-orchestrator-backup"}'), gzipSync('not a tar'), randomBytes(5000)]) {
      assert.equal(await codeOf(verifyBackup(await place(bytes))), 'BACKUP_INVALID');
    }
    assert.equal(await codeOf(verifyBackup(path.join(dir, 'does-not-exist.tar.gz'))), 'INVALID_INPUT');
  });

  const good = sampleEntries().slice(0, 2);
  const hostile: [string, Buffer, string][] = [
    ['the control: a hand-made archive that is fine', craft(good), 'no error'],
    ['an absolute name', craft([...good, { name: '/etc/cron.d/evil', data: Buffer.from('x') }]), 'BACKUP_INVALID'],
    ['a ".." name', craft([...good, { name: 'documents/../../.bashrc', data: Buffer.from('x') }]), 'BACKUP_INVALID'],
    ['a ".." name in a PAX header', craft([...good, { name: `documents/${'../'.repeat(60)}etc/passwd`, data: Buffer.from('x') }]), 'BACKUP_INVALID'],
    ['a name with a backslash', craft([...good, { name: 'roles\\..\\x', data: Buffer.from('x') }]), 'BACKUP_INVALID'],
    ['a name outside the known folders', craft([...good, { name: 'bin/sh', data: Buffer.from('x') }]), 'BACKUP_INVALID'],
    ['a symbolic link entry', craft([...good, { name: 'roles/link', data: Buffer.alloc(0), type: '2' }]), 'BACKUP_INVALID'],
    ['a folder entry', craft([...good, { name: 'roles/dir', data: Buffer.alloc(0), type: '5' }]), 'BACKUP_INVALID'],
    ['an entry the manifest does not list', craft([...good, { name: 'roles/extra.yaml', data: Buffer.from('x') }], {}, good), 'BACKUP_INVALID'],
    ['an entry the manifest lists but the archive lacks', craft(good, {}, [...good, { name: 'roles/gone.yaml', data: Buffer.from('x') }]), 'BACKUP_INVALID'],
    ['entries out of manifest order', craft([good[1]!, good[0]!], {}, good), 'BACKUP_INVALID'],
    ['an entry listed twice', craft([good[0]!, good[0]!]), 'BACKUP_INVALID'],
    ['a checksum that does not match', craft(good, {}, [good[0]!, { ...good[1]!, data: Buffer.from('{"parent_task_id":"task_9876543211"}\n') }]), 'BACKUP_INVALID'],
    ['a size that does not match', craft(good, {}, [good[0]!, { ...good[1]!, data: Buffer.concat([good[1]!.data, Buffer.from(' ')]) }]), 'BACKUP_INVALID'],
    ['no manifest', craft(good, null), 'BACKUP_INVALID'],
    ['a manifest under another name', gzipped([tarEntry('roles/manifest.json', Buffer.from(JSON.stringify(manifestOf(good))), new Date()), ...good.map((e) => tarEntry(e.name, e.data, new Date())), END_OF_ARCHIVE]), 'BACKUP_INVALID'],
    ['an entry under another name than listed, same bytes', craft([{ name: 'roles/b.yaml', data: Buffer.from('same') }], {}, [{ name: 'roles/a.yaml', data: Buffer.from('same') }]), 'BACKUP_INVALID'],
    ['the manifest not first', gzipped([tarEntry(good[0]!.name, good[0]!.data, new Date()), tarEntry(MANIFEST_NAME, Buffer.from('{}'), new Date()), END_OF_ARCHIVE]), 'BACKUP_INVALID'],
    ['counts that do not add up', craft(good, { counts: { parents_active: 2, parents_archived: 1, documents: 0, role_files: 0, plan_keys: 0 } }), 'BACKUP_INVALID'],
    ['another format', craft(good, { format: 'someone-else' as typeof BACKUP_FORMAT }), 'BACKUP_INVALID'],
    ['a newer format version', craft(good, { format_version: 2 }), 'UNSUPPORTED_VERSION'],
  ];
  for (const [name, bytes, expected] of hostile) {
    test(`hand-made archive: ${name} -> ${expected}`, async () => {
      assert.equal(await codeOf(readAll(await place(bytes))), expected);
    });
  }
});

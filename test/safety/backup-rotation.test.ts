import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { backupFileName, chooseBackupsToDelete, parseBackupName } from '../../src/domain/backup-names.js';
import { tempPathFor } from '../../src/store/file/durable-fs.js';
import { listBackups, newBackupPath, pruneBackups, sweepBackupTemps } from '../../src/safety/backup-rotation.js';

const at = (iso: string) => new Date(iso);
const name = (iso: string, random = '0a1b2c3d', encrypted = false, reason: string | null = null) => backupFileName(at(iso), random, { encrypted, reason });

describe('backup names', () => {
  test('named by UTC time to the millisecond, sortable, read back', () => {
    const n = name('2026-12-01T16:00:00.123Z');
    assert.equal(n, 'backup-20261201T160000.123Z-0a1b2c3d.tar.gz');
    assert.deepEqual(parseBackupName(n), { name: n, at: at('2026-12-01T16:00:00.123Z'), reason: null, encrypted: false });
    const e = name('2026-12-01T16:00:00.123Z', 'ffffffff', true, 'before-restore');
    assert.equal(e, 'backup-20261201T160000.123Z-before-restore-ffffffff.tar.gz.enc');
    assert.deepEqual(parseBackupName(e), { name: e, at: at('2026-12-01T16:00:00.123Z'), reason: 'before-restore', encrypted: true });
  });

  test('anything else is not ours', () => {
    for (const other of ['backup.tar.gz', 'my-backup-20261201T160000.123Z-0a1b2c3d.tar.gz', 'backup-20261201T160000.123Z-0a1b2c3d.tar.gz.bak', 'backup-20261301T160000.123Z-0a1b2c3d.tar.gz', 'backup-20261201T160000Z-0a1b2c3d.tar.gz', 'backup-20261201T160000.123Z-0A1B2C3D.tar.gz', '.backup-20261201T160000.123Z-0a1b2c3d.tar.gz.123.abcdefabcdef.tmp', 'notes.txt']) {
      assert.equal(parseBackupName(other), null, other);
    }
  });

  test('rotation keeps the newest N and chooses only our names, oldest first', () => {
    const ours = ['2026-11-28T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '2026-11-30T00:00:00.000Z', '2026-11-29T00:00:00.000Z'].map((t, i) => name(t, `0000000${i}`));
    const names = [...ours, 'keep-me.tar.gz', 'backup-important.tar.gz', 'README'];
    assert.deepEqual(chooseBackupsToDelete(names, 2), [ours[0], ours[3]]);
    assert.deepEqual(chooseBackupsToDelete(names, 4), []);
    assert.deepEqual(chooseBackupsToDelete(names, 1), [ours[0], ours[3], ours[2]]);
    assert.throws(() => chooseBackupsToDelete(names, 0), RangeError);
  });

  test('the same millisecond: ordered by name, the same in every process', () => {
    const a = name('2026-12-01T00:00:00.000Z', 'aaaaaaaa');
    const b = name('2026-12-01T00:00:00.000Z', 'bbbbbbbb');
    assert.deepEqual(chooseBackupsToDelete([b, a], 1), [a]);
    assert.deepEqual(chooseBackupsToDelete([a, b], 1), [a]);
  });
});

describe('backup rotation on disk', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-rotation-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('pruneBackups deletes only the older backups; foreign files, links and folders stay', async () => {
    const folder = path.join(dir, 'prune');
    await mkdir(folder);
    const ours = Array.from({ length: 6 }, (_, i) => name(`2026-12-0${i + 1}T10:00:00.000Z`, `0000000${i}`, i % 2 === 1));
    for (const n of ours) await writeFile(path.join(folder, n), 'x');
    const foreign = ['notes.txt', 'backup.tar.gz', 'backup-20200101T000000.000Z-manual.tar.gz'];
    for (const n of foreign) await writeFile(path.join(folder, n), 'mine');
    const looksOurs = name('2020-01-01T00:00:00.000Z', 'dddddddd');
    await mkdir(path.join(folder, looksOurs)); // a folder with a backup's name
    const linked = name('2020-01-02T00:00:00.000Z', 'eeeeeeee');
    await symlink(path.join(folder, 'notes.txt'), path.join(folder, linked)); // a link with a backup's name
    const deleted = await pruneBackups(folder, 2);
    assert.deepEqual(deleted, ours.slice(0, 4));
    assert.deepEqual((await readdir(folder)).sort(), [...ours.slice(4), ...foreign, looksOurs, linked].sort());
    assert.deepEqual((await listBackups(folder)).map((b) => b.name), [ours[5], ours[4]]);
    assert.deepEqual(await pruneBackups(folder, 2), []);
  });

  test('a missing folder has no backups and nothing to prune', async () => {
    assert.deepEqual(await listBackups(path.join(dir, 'none')), []);
    assert.deepEqual(await pruneBackups(path.join(dir, 'none'), 3), []);
  });

  test('newBackupPath gives a name rotation recognises', () => {
    const file = newBackupPath(dir, new Date('2026-12-01T16:00:00Z'), { encrypted: true });
    assert.equal(path.dirname(file), dir);
    assert.equal(parseBackupName(path.basename(file))?.encrypted, true);
  });

  test('sweepBackupTemps removes temp files of writers that are gone, not of live ones, nor anything else', async () => {
    const folder = path.join(dir, 'sweep');
    await mkdir(folder);
    const target = path.join(folder, name('2026-12-01T00:00:00.000Z'));
    const mine = path.basename(tempPathFor(target)); // this process: alive
    const dead = mine.replace(/\.(\d+)-/, '.999999999-'); // a pid no process has
    for (const n of [mine, dead, 'other.tmp', '.other.999999998.abcdefabcdef.tmp']) await writeFile(path.join(folder, n), 'x');
    assert.deepEqual(await sweepBackupTemps(folder), [dead]);
    assert.deepEqual((await readdir(folder)).sort(), [mine, 'other.tmp', '.other.999999998.abcdefabcdef.tmp'].sort());
  });
});

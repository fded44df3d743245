/** Lock files are second names of spare files of their process: taking a lock allocates no inode. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultLockOptions, isSpareLockFile, LockManager } from '../../src/store/file/lock.js';

const spares = (dir: string) => readdirSync(dir).filter(isSpareLockFile);

test('one spare serves lock after lock: the lock file is a second name of it, and release leaves only the spare', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-spares-'));
  const locks = new LockManager(dir, defaultLockOptions());
  try {
    let inode = 0;
    for (const name of ['task_a', 'task_b', 'task_a']) {
      await locks.withLock(name, async () => {
        const lock = statSync(locks.lockPath(name));
        assert.equal(lock.nlink, 2, 'the lock file and the spare are one file');
        inode ||= lock.ino;
        assert.equal(lock.ino, inode, 'the same inode, lock after lock');
      });
    }
    assert.equal(spares(dir).length, 1);
    assert.deepEqual(readdirSync(dir).filter((n) => !isSpareLockFile(n)), [], 'no lock file left');
    assert.equal(statSync(path.join(dir, spares(dir)[0]!)).nlink, 1);
  } finally {
    locks.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('locks held at once have spares of their own, and close removes them all', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-spares-'));
  const locks = new LockManager(dir, defaultLockOptions());
  try {
    await locks.withLock('task_a', () =>
      locks.withLock('task_b', async () => {
        assert.notEqual(statSync(locks.lockPath('task_a')).ino, statSync(locks.lockPath('task_b')).ino);
        assert.equal(spares(dir).length, 2);
      }),
    );
    locks.close();
    assert.deepEqual(readdirSync(dir), [], 'closed, the manager leaves nothing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

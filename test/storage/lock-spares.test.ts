/**
 * A lock file is a second name for a spare file of the process holding it, so taking and releasing a
 * lock creates and frees no inode (on ext4 that allocation cost more than the rest of the lock). What
 * must still hold: each lock carries its own owner and token; a manager that closes leaves nothing; the
 * spares of processes that are gone are swept, those of running processes kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultLockOptions, LockManager, parseOwner, spareOwnerPid } from '../../src/storage/lock.js';
import { deadPid } from '../process/helpers.js';

async function inLocksDir(work: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-spares-'));
  const dir = path.join(root, 'locks');
  await mkdir(dir);
  try {
    await work(dir);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('taking a lock again and again reuses one spare file: the lock is its second name, with a fresh owner each time', () =>
  inLocksDir(async (dir) => {
    const locks = new LockManager(dir, defaultLockOptions());
    const inodes = new Set<number>();
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      await locks.withLock(i % 2 ? 'task_a' : 'task_b', async () => {
        const file = locks.lockPath(i % 2 ? 'task_a' : 'task_b');
        const info = statSync(file);
        assert.equal(info.nlink, 2, 'the lock file is a second name of a spare file');
        inodes.add(info.ino);
        const owner = parseOwner(readFileSync(file, 'utf8'));
        assert.equal(owner?.pid, process.pid);
        tokens.add(owner!.token);
      });
    }
    assert.equal(inodes.size, 1, 'one spare serves every lock taken one after the other');
    assert.equal(tokens.size, 20, 'each lock taken has its own token');
    const left = await readdir(dir);
    assert.equal(left.length, 1, `only the spare is left: ${left.join(', ')}`);
    assert.equal(spareOwnerPid(left[0]!), process.pid);
    locks.close();
    assert.deepEqual(await readdir(dir), [], 'a closed manager leaves nothing');
  }));

test('locks held at once each get their own spare', () =>
  inLocksDir(async (dir) => {
    const locks = new LockManager(dir, defaultLockOptions());
    let release: () => void = () => undefined;
    const holding = locks.withLock('task_a', () => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await locks.withLock('task_b', async () => {
      assert.notEqual(statSync(locks.lockPath('task_a')).ino, statSync(locks.lockPath('task_b')).ino);
      assert.notEqual(parseOwner(readFileSync(locks.lockPath('task_a'), 'utf8'))?.token, parseOwner(readFileSync(locks.lockPath('task_b'), 'utf8'))?.token);
    });
    release();
    await holding;
    locks.close();
    assert.deepEqual(await readdir(dir), []);
  }));

test('the spares of processes that are gone, or unused for over an hour, are swept; a running process keeps its own', () =>
  inLocksDir(async (dir) => {
    const dead = path.join(dir, `.spare-lock.${await deadPid()}.0123456789ab`);
    const live = path.join(dir, `.spare-lock.${process.ppid}.0123456789ab`);
    const liveButOld = path.join(dir, `.spare-lock.${process.ppid}.ba9876543210`);
    const notASpare = path.join(dir, `.spare-lock.${process.ppid}.notours`);
    for (const file of [dead, live, liveButOld, notASpare]) await writeFile(file, '{}');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(liveButOld, old, old);
    const locks = new LockManager(dir, defaultLockOptions());
    assert.deepEqual(locks.sweepSpares().sort(), [dead, liveButOld].sort());
    assert.deepEqual((await readdir(dir)).sort(), [path.basename(live), path.basename(notASpare)].sort());
  }));

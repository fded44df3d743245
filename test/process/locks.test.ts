/**
 * The cross-process lock with real processes: a dead holder's lock is taken over at once, a stale lock
 * is taken over by exactly one of many racers, a live holder's lock is never broken, and released
 * locks leave no file behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultLockOptions, LockManager } from '../../src/store/file/lock.js';
import { bundleWorker, expectCleanExit, killAll, names, sleep, startWorker, tempDir } from './helpers.js';

describe('cross-process locks', () => {
  let build: Awaited<ReturnType<typeof tempDir>>;
  let bundle: string | null = null;
  before(async () => {
    build = await tempDir('locks-build');
    bundle = await bundleWorker('lock-worker', build.dir);
  });
  after(async () => {
    await killAll();
    await build.remove();
  });

  async function locksFolder(): Promise<{ dir: string; remove(): Promise<void> }> {
    const temp = await tempDir('locks');
    const dir = path.join(temp.dir, 'locks');
    await mkdir(dir);
    return { dir, remove: temp.remove };
  }

  test('(a) the lock of a SIGKILLed holder is taken by a waiting process in under a second', async (t) => {
    const folder = await locksFolder();
    try {
      const holder = startWorker('lock-worker', ['hold', folder.dir, 'task_a', '30000', '5000', '0'], { bundle });
      await holder.waitForLine(/^held /, 30_000);
      // The waiter judges staleness with the default 30 s bound: only knowing the owner is dead lets it in early.
      const waiter = startWorker('lock-worker', ['wait', folder.dir, 'task_a', '30000', '5000', '20000'], { bundle });
      await waiter.waitForLine(/^ready$/, 30_000);
      await sleep(300); // the waiter is polling now
      assert.ok(!waiter.lines.includes('acquired'), 'the waiter got a lock that a live process holds');
      const killedAt = Date.now();
      await holder.kill();
      await waiter.waitForLine(/^acquired$/, 5_000);
      const takeoverMs = Date.now() - killedAt;
      assert.ok(takeoverMs < 1_000, `took ${takeoverMs} ms to take over a dead holder's lock`);
      const takeover = await waiter.waitForLine(/^takeover /, 1_000);
      assert.match(takeover, new RegExp(`^takeover ${holder.pid} its owner \\(pid ${holder.pid}\\) is gone`));
      await expectCleanExit(waiter, 'waiter', 10_000);
      assert.deepEqual(await names(folder.dir), [], '(d) the released lock must leave no file');
      t.diagnostic(`dead holder's lock taken over ${takeoverMs} ms after SIGKILL`);
    } finally {
      await killAll();
      await folder.remove();
    }
  });

  const staleLocks = [
    // A live but silent foreign holder: another host (so its pid cannot be checked), last refreshed an hour ago.
    { kind: 'a foreign owner', content: JSON.stringify({ pid: process.pid, host: 'other-host', token: 'f0f0f0f0f0f0f0f0', acquired_at: new Date(Date.now() - 3_600_000).toISOString() }), takeoverBy: /^takeover \d+ not refreshed for \d+ s \(bound 5 s\)$/ },
    // An empty lock file, as Python's filelock leaves: no owner to ask, judged by its age alone.
    { kind: 'an empty (Python filelock) file', content: '', takeoverBy: /^takeover \? not refreshed for \d+ s \(bound 5 s\)$/ },
  ];
  for (const stale of staleLocks) test(`(b) a stale lock of ${stale.kind} raced by 6 processes at once: one takeover, and the holders never overlap`, async (t) => {
    const folder = await locksFolder();
    const log = path.join(path.dirname(folder.dir), 'critical-section.log');
    const RACERS = 6;
    const ROUNDS = 3;
    try {
      const lockFile = path.join(folder.dir, 'task_b.lock');
      await writeFile(lockFile, stale.content);
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(lockFile, hourAgo, hourAgo);
      await writeFile(log, '');
      const racers = Array.from({ length: RACERS }, () => startWorker('lock-worker', ['race', folder.dir, 'task_b', '5000', String(ROUNDS), log], { bundle }));
      await Promise.all(racers.map((r) => r.waitForLine(/^ready$/, 30_000)));
      for (const r of racers) r.send('go');
      await Promise.all(racers.map((r, i) => expectCleanExit(r, `racer ${i}`, 60_000)));

      const takeovers = racers.flatMap((r) => r.lines.filter((l) => l.startsWith('takeover ')));
      assert.equal(takeovers.length, 1, `exactly one process may take over the stale lock, got:\n${takeovers.join('\n')}`);
      assert.match(takeovers[0]!, stale.takeoverBy);

      const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      assert.equal(lines.length, 2 * RACERS * ROUNDS);
      for (let i = 0; i < lines.length; i += 2) {
        const [enter, exit] = [lines[i]!, lines[i + 1]!];
        assert.ok(enter.startsWith('enter ') && exit === `exit ${enter.slice(6)}`, `two holders at once around line ${i + 1}:\n${lines.slice(Math.max(0, i - 2), i + 4).join('\n')}`);
      }
      const perRacer = new Map<string, number>();
      for (const line of lines.filter((l) => l.startsWith('enter '))) perRacer.set(line, (perRacer.get(line) ?? 0) + 1);
      assert.deepEqual([...perRacer.values()], Array(RACERS).fill(ROUNDS));
      assert.deepEqual(await names(folder.dir), [], '(d) no lock, marker or temp file may be left');
      t.diagnostic(`${RACERS} racers x ${ROUNDS} rounds: ${takeovers.length} takeover, ${lines.length / 2} critical sections, none overlapping`);
    } finally {
      await killAll();
      await folder.remove();
    }
  });

  test('(c) a live holder that keeps refreshing is never broken, even after staleMs: the waiter gets LOCK_TIMEOUT naming it', async (t) => {
    const folder = await locksFolder();
    try {
      // staleMs 1 s, refreshed every 100 ms, held until told; the waiter gives up after 3 s (3 x staleMs).
      const holder = startWorker('lock-worker', ['hold', folder.dir, 'task_c', '1000', '100', '-1'], { bundle });
      await holder.waitForLine(/^held /, 30_000);
      const waiter = startWorker('lock-worker', ['wait', folder.dir, 'task_c', '1000', '100', '3000'], { bundle });
      const outcome = await waiter.waitForLine(/^(acquired|error )/, 20_000);
      assert.match(outcome, /^error LOCK_TIMEOUT /, `the waiter must time out, not take a live lock: ${outcome}`);
      assert.ok(outcome.includes(`pid ${holder.pid} on ${os.hostname()}`), `the error must name the holder: ${outcome}`);
      assert.ok(!waiter.lines.some((l) => l.startsWith('takeover')), 'a live lock was taken over');
      holder.send('release');
      assert.equal(await holder.waitForLine(/^still-mine /, 20_000), 'still-mine true');
      await expectCleanExit(holder, 'holder', 10_000);
      await expectCleanExit(waiter, 'waiter', 10_000);
      assert.deepEqual(await names(folder.dir), [], '(d) the released lock must leave no file');
      t.diagnostic(outcome.slice(0, 160));
    } finally {
      await killAll();
      await folder.remove();
    }
  });

  test('(d) locks taken and released many times, in one process and across processes, leave no files', async () => {
    const folder = await locksFolder();
    try {
      const holder = startWorker('lock-worker', ['hold', folder.dir, 'task_d', '30000', '5000', '200'], { bundle });
      const locks = new LockManager(folder.dir, defaultLockOptions({ timeoutMs: 20_000 }));
      const inside = new Map<string, number>();
      let overlaps = 0;
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const name = i % 2 ? 'task_d' : 'task_e';
          return locks.withLock(name, async () => {
            if (inside.get(name)) overlaps++;
            inside.set(name, 1);
            await sleep(1);
            inside.set(name, 0);
          });
        }),
      );
      assert.equal(overlaps, 0, 'one holder per lock name at a time');
      await expectCleanExit(holder, 'holder', 20_000);
      assert.deepEqual(await names(folder.dir), []);
      // A failing critical section releases its lock too.
      await assert.rejects(locks.withLock('task_f', async () => Promise.reject(new Error('boom'))), /boom/);
      assert.deepEqual(await names(folder.dir), []);
    } finally {
      await killAll();
      await folder.remove();
    }
  });
});

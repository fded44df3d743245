/**
 * Servers in separate PID namespaces sharing one folder, as containers beside a host do (same host name,
 * same boot, pids that mean different processes): owners, liveness and fencing (docs/storage.md).
 * Each test here failed before owner.ts, the file-system clock and the fence (see the commit message).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { parseTaskFile } from '../../src/domain/task-file.js';
import type { ParentTask } from '../../src/domain/model.js';
import { layoutFor } from '../../src/store/file/layout.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { bundleWorker, childPidOf, expectCleanExit, IN_NEW_PID_NAMESPACE, killAll, names, namespacesUnavailable, sleep, startWorker, tempDir, tempFilesUnder, type Worker } from './helpers.js';

const noNamespaces = namespacesUnavailable();
const noFaketime = spawnSync('faketime', ['-f', '+2h', 'true']).status === 0 ? null : 'faketime is not installed (apt-get install faketime)';

function readParent(file: string): ParentTask {
  const parsed = parseTaskFile(readFileSync(file, 'utf8'));
  assert.ok(parsed.ok, `${file} does not parse`);
  return parsed.value;
}

async function planParent(dir: string, subtasks: number): Promise<string> {
  const setup = await openProject(dir, readSettings({}), silentLogger);
  const plan = await setup.orchestrator.planTask({ description: 'Shared by servers in several PID namespaces', subtasks: Array.from({ length: subtasks }, (_, i) => ({ title: `Step ${i + 1}`, specialist_type: 'implementer' })) });
  await setup.close();
  return plan.parent_task_id;
}

describe('servers in separate PID namespaces', { skip: noNamespaces ?? false }, () => {
  let build: Awaited<ReturnType<typeof tempDir>>;
  const bundles: Record<string, string | null> = {};
  before(async () => {
    build = await tempDir('ns-build');
    for (const name of ['lock-worker', 'complete-share', 'create-parents', 'sweep-loop', 'fenced-writer']) bundles[name] = await bundleWorker(name, build.dir);
  });
  after(async () => {
    await killAll();
    await build.remove();
  });
  const start = (name: string, args: string[], wrap: string[] = IN_NEW_PID_NAMESPACE) => startWorker(name, args, { bundle: bundles[name], wrap });

  test('concurrent plans and completions on one parent from the host and from two namespaces, with a namespaced start-up sweep running: 0 failed, 0 lost', { timeout: 180_000 }, async (t) => {
    const project = await tempDir('ns-contention');
    const SUBTASKS = 40;
    const COMPLETERS = 4;
    const PLANS = 10;
    try {
      const parentId = await planParent(project.dir, SUBTASKS);
      const completers = Array.from({ length: COMPLETERS }, (_, i) => start('complete-share', [project.dir, parentId, String(i), String(COMPLETERS), String(SUBTASKS)], i % 2 ? IN_NEW_PID_NAMESPACE : []));
      const planners = [start('create-parents', ['plan', project.dir, 'host', String(PLANS)], []), start('create-parents', ['plan', project.dir, 'namespaced', String(PLANS)])];
      const sweeper = start('sweep-loop', [project.dir]);
      const workers: Worker[] = [...completers, ...planners];
      await Promise.all([...workers, sweeper].map((w) => w.waitForLine(/^ready$/, 60_000)));
      for (const w of workers) w.send('go');
      await Promise.all(workers.map((w, i) => expectCleanExit(w, `worker ${i}`, 150_000)));
      sweeper.send('stop');
      const swept = await sweeper.waitForLine(/^swept /, 10_000);
      await expectCleanExit(sweeper, 'sweeper', 10_000);

      const layout = layoutFor(project.dir);
      const shared = readParent(path.join(layout.archiveDir, `${parentId}.json`));
      const lost = shared.subtasks.filter((s, k) => s.status !== 'completed' || s.results !== `worker ${k % COMPLETERS} completed ${parentId}.${k + 1}`);
      assert.deepEqual(lost.map((s) => `${s.task_id}: ${s.status} ${s.results}`), [], 'lost updates');
      assert.equal(shared.revision, 1 + 2 * SUBTASKS, 'revision = the plan + one per execute and per complete');
      const created = planners.flatMap((w) => w.lines.filter((l) => l.startsWith('created ')));
      assert.equal(created.length, 2 * PLANS, 'every plan acknowledged');
      assert.equal(swept.split(' ')[2], '0', `the sweep removed temp files of live writers: ${swept}`);
      assert.deepEqual(await names(layout.locksDir), [], 'locks/ must be empty');
      assert.deepEqual(await tempFilesUnder(layout.root), [], 'temp files left');
      t.diagnostic(`${COMPLETERS} completers (2 namespaced), 2 planners (1 namespaced): revision ${shared.revision}, lost 0, failed 0; ${swept}`);
    } finally {
      await killAll();
      await project.remove();
    }
  });

  test("a holder in another namespace is judged by its heartbeat: a live one is never broken (fails when the heartbeat is a no-op)", async () => {
    const folder = await tempDir('ns-heartbeat');
    try {
      const holder = start('lock-worker', ['hold', folder.dir, 'task_h', '1000', '100', '-1']);
      await holder.waitForLine(/^held /, 30_000);
      // Three stale times long, the waiter can only see the holder's heartbeat: its pid means nothing here.
      const waiter = start('lock-worker', ['wait', folder.dir, 'task_h', '1000', '100', '3000']);
      const outcome = await waiter.waitForLine(/^(acquired|error )/, 20_000);
      assert.match(outcome, /^error LOCK_TIMEOUT .*pid 1 on /, `the waiter broke a live lock: ${outcome}`);
      holder.send('release');
      assert.equal(await holder.waitForLine(/^still-mine /, 10_000), 'still-mine true');
      await expectCleanExit(holder, 'holder', 10_000);
      await expectCleanExit(waiter, 'waiter', 10_000);
    } finally {
      await killAll();
      await folder.remove();
    }
  });

  for (const place of ['in the same namespace', 'in another namespace'] as const) {
    test(`a waiter whose clock is 2 h ahead (faketime) never breaks a live lock of a holder ${place}`, { skip: noFaketime ?? false }, async () => {
      const folder = await tempDir('ns-faketime');
      try {
        const same = place === 'in the same namespace';
        const holder = start('lock-worker', ['hold', folder.dir, 'task_f', '1000', '100', '-1'], same ? [] : IN_NEW_PID_NAMESPACE);
        await holder.waitForLine(/^held /, 30_000);
        const waiter = start('lock-worker', ['wait', folder.dir, 'task_f', '1000', '100', '2500'], ['faketime', '-f', '+2h', ...(same ? [] : IN_NEW_PID_NAMESPACE)]);
        const clock = Number((await waiter.waitForLine(/^ns /, 30_000)).split(' ')[2]);
        assert.ok(clock - Date.now() > 1.9 * 3_600_000, `faketime did not shift the waiter's clock (${new Date(clock).toISOString()})`);
        const outcome = await waiter.waitForLine(/^(acquired|error )/, 20_000);
        assert.match(outcome, /^error LOCK_TIMEOUT /, `the waiter broke a live lock: ${outcome}`);
        holder.send('release');
        assert.equal(await holder.waitForLine(/^still-mine /, 10_000), 'still-mine true');
        await expectCleanExit(holder, 'holder', 10_000);
        await expectCleanExit(waiter, 'waiter', 10_000);
      } finally {
        await killAll();
        await folder.remove();
      }
    });
  }

  test('a server restarted as pid 1 after a crash (its namespace number reused) reclaims its dead lock at once', async (t) => {
    const folder = await tempDir('ns-restart');
    try {
      const crashed = start('lock-worker', ['hold', folder.dir, 'task_r', '30000', '5000', '0']);
      const crashedNs = (await crashed.waitForLine(/^ns /, 30_000)).split(' ')[1];
      await crashed.waitForLine(/^held 1$/, 30_000);
      const inner = childPidOf(crashed.pid);
      await crashed.kill();
      for (let i = 0; existsSync(`/proc/${inner}`) && i < 200; i++) await sleep(10);
      // A fresh namespace gets the lowest free number, often the crashed one's: then its pid 1 is "the
      // same pid in the same namespace" with another instance. Candidates in another number step aside.
      for (let attempt = 1; attempt <= 12; attempt++) {
        const restarted = start('lock-worker', ['restart', folder.dir, 'task_r', '30000', '5000']);
        const ns = (await restarted.waitForLine(/^ns /, 30_000)).split(' ')[1];
        if (ns !== crashedNs) {
          restarted.send('verdict quit');
          await expectCleanExit(restarted, 'candidate', 10_000);
          continue;
        }
        const began = Date.now();
        restarted.send('verdict go');
        const outcome = await restarted.waitForLine(/^(acquired|error )/, 20_000);
        const took = Date.now() - began;
        assert.equal(outcome, 'acquired');
        assert.match(await restarted.waitForLine(/^takeover /, 1_000), /^takeover 1 its owner \(pid 1\) is gone$/);
        assert.ok(took < 1_000, `took ${took} ms`);
        await expectCleanExit(restarted, 'restarted', 10_000);
        assert.deepEqual(await names(folder.dir), []);
        t.diagnostic(`namespace ${ns} reused at attempt ${attempt}; dead lock reclaimed in ${took} ms`);
        return;
      }
      t.skip(`no fresh namespace got the crashed one's number (${crashedNs}) in 12 attempts`);
    } finally {
      await killAll();
      await folder.remove();
    }
  });

  test('stale takeover: the old holder, paused (SIGSTOP) past the stale time and resumed, ends in LOCK_LOST; its heartbeat never touches the new lock; no update lost', async () => {
    const project = await tempDir('ns-fencing');
    try {
      const parentId = await planParent(project.dir, 1);
      const layout = layoutFor(project.dir);
      const file = path.join(layout.activeDir, `${parentId}.json`);
      const before = readParent(file).revision ?? 0;
      const lockFile = path.join(layout.locksDir, `${parentId}.lock`);
      // A refreshes every 100 ms (stale after 1 s); B never refreshes in this test, so any change to its lock's mtime is A's.
      const a = start('fenced-writer', [project.dir, parentId, 'A', '1000', '100']);
      const b = start('fenced-writer', [project.dir, parentId, 'B', '1000', '600000']);
      await Promise.all([a, b].map((w) => w.waitForLine(/^ready$/, 30_000)));
      a.send('write');
      await a.waitForLine(/^inside$/, 10_000);
      const aInner = childPidOf(a.pid);
      process.kill(aInner, 'SIGSTOP');
      try {
        await sleep(1_500);
        b.send('write');
        await b.waitForLine(/^inside$/, 10_000);
        assert.match(await b.waitForLine(/^takeover /, 1_000), /^takeover 1 not refreshed for \d+ s \(bound 1 s\)$/);
        const taken = statSync(lockFile);
        const content = readFileSync(lockFile, 'utf8');
        process.kill(aInner, 'SIGCONT');
        a.send('continue');
        assert.match(await a.waitForLine(/^(ack|error) /, 10_000), /^error LOCK_LOST /, 'the old holder must not commit');
        await sleep(400); // A's heartbeat (100 ms) has had its chances
        assert.equal(statSync(lockFile).mtimeMs, taken.mtimeMs, "the old holder's heartbeat refreshed the new owner's lock");
        assert.equal(readFileSync(lockFile, 'utf8'), content);
      } finally {
        process.kill(aInner, 'SIGCONT');
      }
      b.send('continue');
      assert.equal(await b.waitForLine(/^(ack|error) /, 10_000), `ack ${before + 1}`);
      for (const w of [a, b]) w.send('exit');
      await Promise.all([a, b].map((w, i) => expectCleanExit(w, `writer ${i}`, 10_000)));
      const after = readParent(file);
      assert.equal(after.revision, before + 1, 'one write committed');
      assert.match(after.context, / B$/, "B's acknowledged change is on disk");
      assert.ok(!after.context.includes(' A'), "A's abandoned change must not be on disk");
      assert.deepEqual(await tempFilesUnder(layout.root), [], 'the abandoned write left its temp file');
    } finally {
      await killAll();
      await project.remove();
    }
  });
});

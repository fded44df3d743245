import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { validatePlan } from '../../src/domain/plan.js';
import { unwrap } from '../../src/domain/errors.js';
import type { ParentTask } from '../../src/domain/model.js';
import { FileTaskStore } from '../../src/store/file/file-task-store.js';
import { layoutFor } from '../../src/store/file/layout.js';
import { defaultLockOptions, LockManager } from '../../src/store/file/lock.js';
import { silentLogger } from '../../src/logging/logger.js';
import { connectInProcess } from '../mcp/harness.js';

const ROLES = new Set(['tester']);

async function openStore(dir: string): Promise<FileTaskStore> {
  const layout = layoutFor(dir);
  return FileTaskStore.open({ layout, logger: silentLogger, locks: new LockManager(layout.locksDir, defaultLockOptions()) });
}

/** Runs a test in a fresh temp folder, removed afterwards whatever happens. */
async function inTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-cache-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function plan(store: FileTaskStore, title: string) {
  return store.create((id) => unwrap(validatePlan({ description: title, subtasks: [{ title, specialist_type: 'tester' }] }, ROLES, id, new Date().toISOString())).parent);
}

test('a start from the index cache sees files changed, removed and added by hand while no server ran', () =>
  inTempDir(async (dir) => {
    const first = await openStore(dir);
    const [kept, corrupted, removed] = [await plan(first, 'kept'), await plan(first, 'corrupted'), await plan(first, 'removed')];
    await first.close();
    assert.ok((await readFile(layoutFor(dir).indexCacheFile, 'utf8')).includes(kept.parent_task_id), 'closing writes the cache');

    const layout = layoutFor(dir);
    const corruptFile = path.join(layout.activeDir, `${corrupted.parent_task_id}.json`);
    await writeFile(corruptFile, '{"parent_task_id": "broken');
    await utimes(corruptFile, new Date(), new Date(Date.now() + 5_000)); // a different mtime even on coarse clocks
    await unlink(path.join(layout.activeDir, `${removed.parent_task_id}.json`));
    const addedId = 'task_00000000aa';
    const added = { ...kept, parent_task_id: addedId, subtasks: kept.subtasks.map((s) => ({ ...s, task_id: `${addedId}.1` })) };
    await writeFile(path.join(layout.activeDir, `${addedId}.json`), JSON.stringify(added));

    const second = await openStore(dir);
    try {
      const ids = (await second.list({ includeArchived: false })).map((s) => s.parent_task_id).sort();
      assert.deepEqual(ids, [kept.parent_task_id, addedId].sort());
      assert.deepEqual(second.problems().map((p) => p.parent_task_id), [corrupted.parent_task_id]);
    } finally {
      await second.close();
    }
  }));

test('a torn or foreign index cache is ignored and the folder scanned', () =>
  inTempDir(async (dir) => {
    const first = await openStore(dir);
    const parent = await plan(first, 'only');
    await first.close();
    for (const junk of ['{"format": 1, "active": [', '{"format": 99, "active": [], "problems": []}', '']) {
      await writeFile(layoutFor(dir).indexCacheFile, junk);
      const store = await openStore(dir);
      try {
        assert.deepEqual((await store.list({ includeArchived: false })).map((s) => s.parent_task_id), [parent.parent_task_id], `cache ${JSON.stringify(junk)}`);
      } finally {
        await store.close();
      }
    }
  }));

test('writes by another process reach this index through the journal, without a rescan', () =>
  inTempDir(async (dir) => {
    const reader = await openStore(dir);
    const writer = await openStore(dir);
    try {
      const parent = await plan(writer, 'shared');
      assert.deepEqual((await reader.list({ includeArchived: false })).map((s) => s.parent_task_id), [parent.parent_task_id]);
      await writer.update(parent.parent_task_id, (p) => ({ ...p, subtasks: p.subtasks.map((s) => ({ ...s, status: 'blocked' as const })) }));
      const [summary] = await reader.list({ includeArchived: false });
      assert.equal(summary!.subtasks[0]!.status, 'blocked');
    } finally {
      await reader.close();
      await writer.close();
    }
  }));

test('the aggregate counts stay equal to a recount through creates, updates, archives and other processes\' writes', () =>
  inTempDir(async (dir) => {
    const statuses = ['pending', 'active', 'completed', 'blocked', 'failed'] as const;
    const [mine, other] = [await openStore(dir), await openStore(dir)];
    try {
      const ids = [];
      for (let i = 0; i < 12; i++) ids.push((await plan(i % 2 ? other : mine, `p${i}`)).parent_task_id);
      for (let step = 0; step < 60; step++) {
        const writer = step % 3 ? mine : other;
        const id = ids[(step * 7) % ids.length]!;
        const status = statuses[(step * 5) % statuses.length]!;
        await writer.update(id, (p) => ({ ...p, updated_at: new Date(Date.UTC(2026, 0, 1, 0, step)).toISOString(), subtasks: p.subtasks.map((s) => ({ ...s, status })) }));
        for (const includeArchived of [false, true]) {
          const listed = await mine.list({ includeArchived });
          const stats = await mine.statistics({ includeArchived });
          const recount = Object.fromEntries(statuses.map((s) => [s, listed.flatMap((p) => p.subtasks).filter((t) => t.status === s).length]));
          assert.deepEqual({ ...stats.counts }, recount, `step ${step}, archive ${includeArchived}`);
          assert.deepEqual(stats.withActiveSubtasks.map((p) => p.parent_task_id).sort(), listed.filter((p) => p.subtasks.some((t) => t.status === 'active')).map((p) => p.parent_task_id).sort());
          assert.deepEqual(listed.map((p) => p.updated_at), [...listed.map((p) => p.updated_at)].sort().reverse(), 'most recent first');
          if (includeArchived) assert.deepEqual(listed.map((p) => p.parent_task_id).sort(), [...ids].sort(), `step ${step}: every parent listed once`);
        }
      }
    } finally {
      await mine.close();
      await other.close();
    }
  }));

test('archiving never replaces a different file already in tasks/archive/: both are kept and the task stays active', () =>
  inTempDir(async (dir) => {
    const store = await openStore(dir);
    try {
      const parent = await plan(store, 'restored from a backup');
      const layout = layoutFor(dir);
      const archived = path.join(layout.archiveDir, `${parent.parent_task_id}.json`);
      await writeFile(archived, 'an older archived copy');
      const done = await store.update(parent.parent_task_id, (p) => ({ ...p, subtasks: p.subtasks.map((s) => ({ ...s, status: 'completed' as const, results: 'done' })) }));
      assert.equal(done.subtasks[0]!.status, 'completed', 'the completion itself is stored');
      assert.equal(await readFile(archived, 'utf8'), 'an older archived copy');
      assert.ok((await readFile(path.join(layout.activeDir, `${parent.parent_task_id}.json`), 'utf8')).includes('"completed"'));
      await assert.rejects(store.archiveIfComplete(parent.parent_task_id), /already exists and is a different file/);
    } finally {
      await store.close();
    }
  }));

/** A cache that parses but has the wrong shape somewhere: each variant changes one thing of a real cache. */
const MISSHAPEN_CACHES: [what: string, change: (cache: any) => void][] = [
  ['a number where the parent id belongs', (c) => (c.active[0][1] = 42)],
  ['a number where the stat key belongs', (c) => (c.active[0][0] = 7)],
  ['an unknown parent status', (c) => (c.active[0][4] = 'exploded')],
  ['an unknown subtask status', (c) => (c.active[0][7][0][2] = 'exploded')],
  ['a null subtask row', (c) => (c.active[0][7][0] = null)],
  ['an owner that is text', (c) => (c.active[0][7][0][4] = 'me')],
  ['a null parent row', (c) => c.active.push(null)],
  ['a parent row twice', (c) => c.active.push(c.active[0])],
  ['a short parent row', (c) => (c.active[0] = c.active[0].slice(0, 5))],
  ['a negative journal offset', (c) => (c.journal.offset = -5)],
  ['a journal offset that is text', (c) => (c.journal.offset = '12')],
  ['no journal position', (c) => (c.journal = null)],
  ['a number where a problem file name belongs', (c) => c.problems.push({ file: 42, parent_task_id: null, kind: 'corrupt', reason: 'r', action: 'a', statKey: '1:2:3' })],
  ['a problem outside tasks/active/', (c) => c.problems.push({ file: '../../outside.json', parent_task_id: null, kind: 'corrupt', reason: 'r', action: 'a', statKey: '1:2:3' })],
  ['a null problem', (c) => c.problems.push(null)],
];

/** A project with one task (its subtask blocked) and the cache a closing store wrote for it, changed by `change`. */
async function withMisshapenCache(dir: string, change: (cache: any) => void): Promise<ParentTask> {
  const layout = layoutFor(dir);
  const first = await openStore(dir);
  const parent = await first.update((await plan(first, 'the only task')).parent_task_id, (p) => ({ ...p, subtasks: p.subtasks.map((s) => ({ ...s, status: 'blocked' as const })) }));
  await first.close();
  const cache = JSON.parse(await readFile(layout.indexCacheFile, 'utf8'));
  change(cache);
  await writeFile(layout.indexCacheFile, JSON.stringify(cache));
  return parent;
}

test('an index cache that parses but has the wrong shape is ignored: the folder is scanned, every query and change works', async () => {
  const failures: string[] = [];
  for (const [what, change] of MISSHAPEN_CACHES) {
    await inTempDir(async (dir) => {
      const parent = await withMisshapenCache(dir, change);
      try {
        const store = await openStore(dir);
        try {
          const listed = await store.list({ includeArchived: false });
          assert.deepEqual(listed.map((s) => [s.parent_task_id, s.status, s.title, s.subtasks.map((t) => t.status)]), [[parent.parent_task_id, 'active', 'the only task', ['blocked']]]);
          assert.deepEqual({ ...(await store.statistics({ includeArchived: false })).counts }, { pending: 0, active: 0, completed: 0, blocked: 1, failed: 0 });
          assert.deepEqual(store.problems(), []);
          await store.update(parent.parent_task_id, (p) => ({ ...p, context: what }));
        } finally {
          await store.close();
        }
      } catch (error) {
        failures.push(`${what}: ${(error as Error).message.split('\n').slice(0, 4).join(' ')}`);
      }
    });
  }
  assert.deepEqual(failures, []);
});

test('through the MCP tools: an unknown status in the cache does not fail the output validation of get_status', () =>
  inTempDir(async (dir) => {
    const parent = await withMisshapenCache(dir, (cache) => {
      cache.active[0][4] = 'exploded';
      cache.active[0][7][0][2] = 'exploded';
    });
    const connection = await connectInProcess(dir);
    try {
      const status = await connection.call('orchestrator_get_status');
      assert.equal(status.isError, false, status.text);
      assert.deepEqual(status.data.tasks.map((t: any) => [t.parent_task_id, t.status]), [[parent.parent_task_id, 'blocked']]);
    } finally {
      await connection.close();
    }
  }));

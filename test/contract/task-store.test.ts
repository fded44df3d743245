/**
 * The TaskStore port (src/app/ports.ts), as its comments document it, on every store kind. Each test
 * uses parents of its own, so most share one store; listings and counts get a fresh store each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlanKeyRecord, TaskStore } from '../../src/app/ports.js';
import type { ParentTask } from '../../src/domain/model.js';
import { contentsOf, forEachStoreKind, parentOf, refusal, sharedStore, stored, tick, withFreshStore } from './harness.js';

const TASK_ID = /^task_[0-9a-f]{10}$/;
const sha = (n: number) => n.toString(16).padStart(64, '0');
const keyRecord = (parentTaskId: string, args = 'a'.repeat(64)): PlanKeyRecord => ({ args_sha256: args, parent_task_id: parentTaskId, at: tick(0) });

/** A parent stored under a fresh id, with these statuses. */
async function storeParent(store: TaskStore, statuses: Parameters<typeof parentOf>[1], fields: Partial<ParentTask> = {}): Promise<ParentTask> {
  const { parent, created } = await store.createWithId(parentOf(await store.newParentId(), statuses, fields));
  assert.equal(created, true);
  return parent;
}

/** The change of `parent` that completes subtask `n` (1-based). */
const completing = (n: number, at = tick(10)) => (parent: ParentTask): ParentTask => ({
  ...parent,
  updated_at: at,
  subtasks: parent.subtasks.map((s, i) => (i === n - 1 ? { ...s, status: 'completed', results: `done ${n}`, completed_at: at } : s)),
});

await forEachStoreKind('TaskStore port', (kind) => {
  const shared = sharedStore(kind);
  const store = async () => (await shared.main()).store;

  test('create passes a fresh id to build and stores what build returns; concurrent creates get distinct ids', async () => {
    const s = await store();
    const made = await Promise.all(Array.from({ length: 20 }, () => s.create((id) => parentOf(id, ['pending']))));
    const ids = made.map((p) => p.parent_task_id);
    assert.equal(new Set(ids).size, 20, 'ids are unique');
    for (const parent of made) {
      assert.match(parent.parent_task_id, TASK_ID);
      assert.equal(parent.subtasks[0]!.task_id, `${parent.parent_task_id}.1`, 'build got the id');
      assert.deepEqual(await s.read(parent.parent_task_id), stored(parent));
      assert.equal(await s.locationOf(parent.parent_task_id), 'active');
    }
  });

  test('newParentId gives ids that no stored parent uses, a different one each time', async () => {
    const s = await store();
    await storeParent(s, ['pending']);
    const taken = new Set((await s.list({ includeArchived: true })).map((p) => p.parent_task_id));
    const ids = await Promise.all(Array.from({ length: 20 }, () => s.newParentId()));
    assert.equal(new Set(ids).size, 20);
    for (const id of ids) {
      assert.match(id, TASK_ID);
      assert.ok(!taken.has(id));
      assert.equal(await s.locationOf(id), null);
    }
  });

  test('createWithId stores under the id the parent carries; a second call gets the stored one, unchanged', async () => {
    const s = await store();
    const first = parentOf(await s.newParentId(), ['pending'], { description: 'first' });
    assert.deepEqual(await s.createWithId(first), { parent: first, created: true });
    const again = await s.createWithId({ ...first, description: 'second' });
    assert.equal(again.created, false);
    assert.deepEqual(again.parent, stored(first));
    assert.equal((await s.read(first.parent_task_id)).description, 'first');
  });

  test('createWithId racing itself on one id: exactly one creates, every call gets that parent', async () => {
    const s = await store();
    const id = await s.newParentId();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.createWithId(parentOf(id, ['pending'], { description: `call ${i}` }))));
    const winners = results.filter((r) => r.created);
    assert.equal(winners.length, 1);
    const kept = winners[0]!.parent.description;
    for (const r of results) assert.equal(r.parent.description, kept);
    assert.equal((await s.read(id)).description, kept);
  });

  test('createWithId on the id of an archived parent returns that parent and creates nothing', async () => {
    const s = await store();
    const parent = await storeParent(s, ['pending']);
    await s.update(parent.parent_task_id, completing(1));
    assert.equal(await s.locationOf(parent.parent_task_id), 'archive');
    const again = await s.createWithId(parentOf(parent.parent_task_id, ['pending'], { description: 'a newcomer' }));
    assert.equal(again.created, false);
    assert.equal(again.parent.description, parent.description);
    assert.equal(await s.locationOf(parent.parent_task_id), 'archive');
  });

  test('read and locationOf of an unknown id: TASK_NOT_FOUND and null', async () => {
    const s = await store();
    const id = await s.newParentId();
    const error = await refusal(s.read(id), 'TASK_NOT_FOUND');
    assert.match(error.message, new RegExp(id));
    assert.equal(await s.locationOf(id), null);
  });

  test('update hands change the current version, stores what it returns, one revision later, and returns it', async () => {
    const s = await store();
    const parent = await storeParent(s, ['pending', 'pending']);
    let seen: ParentTask | undefined;
    const result = await s.update(parent.parent_task_id, (current) => {
      seen = current;
      return { ...current, context: 'changed', updated_at: tick(5) };
    });
    assert.deepEqual(seen, stored(parent));
    assert.equal(result.context, 'changed');
    assert.equal(result.revision, 2, 'revision: incremented on every write (model.ts)');
    assert.deepEqual(await s.read(parent.parent_task_id), stored(result));
    const next = await s.update(parent.parent_task_id, (current) => ({ ...current, context: `${current.context} again` }));
    assert.equal(next.context, 'changed again', 'the next change starts from the stored version');
    assert.equal((await s.read(parent.parent_task_id)).revision, 3);
  });

  test('update whose change returns the same object writes nothing', async () => {
    const s = await store();
    const parent = await storeParent(s, ['pending']);
    const before = await s.read(parent.parent_task_id);
    const result = await s.update(parent.parent_task_id, (current) => current);
    assert.deepEqual(result, before);
    assert.deepEqual(await s.read(parent.parent_task_id), before, 'same revision, same content');
  });

  test('update whose change throws (or rejects) passes the error on and leaves the stored parent untouched', async () => {
    const s = await store();
    const parent = await storeParent(s, ['pending']);
    const before = await s.read(parent.parent_task_id);
    const thrown = new Error('the change refused');
    await assert.rejects(s.update(parent.parent_task_id, () => { throw thrown; }), (error) => error === thrown);
    await assert.rejects(s.update(parent.parent_task_id, async (current) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (current) throw thrown;
      return current;
    }), (error) => error === thrown);
    assert.deepEqual(await s.read(parent.parent_task_id), before);
    const after = await s.update(parent.parent_task_id, (current) => ({ ...current, context: 'works again' }));
    assert.equal(after.revision, (before.revision ?? 0) + 1, 'a failed change leaves nothing held');
  });

  test('update of an unknown parent: TASK_NOT_FOUND, and change is never called', async () => {
    const s = await store();
    let called = false;
    await refusal(s.update(await s.newParentId(), (p) => ((called = true), p)), 'TASK_NOT_FOUND');
    assert.equal(called, false);
  });

  test('20 concurrent updates of one parent from one process: every change kept (0 lost)', async () => {
    const s = await store();
    const parent = await storeParent(s, ['pending']);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.update(parent.parent_task_id, async (current) => {
      await new Promise((resolve) => setImmediate(resolve)); // let the others run while this change is open
      return { ...current, context: `${current.context}[m${i}]` };
    })));
    const after = await s.read(parent.parent_task_id);
    const markers = after.context.match(/\[m\d+\]/g) ?? [];
    assert.equal(markers.length, 20, after.context);
    assert.deepEqual(new Set(markers), new Set(Array.from({ length: 20 }, (_, i) => `[m${i}]`)));
    assert.equal(after.revision, (parent.revision ?? 0) + 20);
  });

  test('a change that completes the parent archives it: read and locationOf find it in the archive', async () => {
    const s = await store();
    const parent = await storeParent(s, ['completed', 'pending']);
    assert.equal(await s.locationOf(parent.parent_task_id), 'active');
    const result = await s.update(parent.parent_task_id, completing(2));
    assert.ok(result.subtasks.every((t) => t.status === 'completed'));
    assert.equal(await s.locationOf(parent.parent_task_id), 'archive');
    assert.deepEqual(await s.read(parent.parent_task_id), stored(result));
    assert.equal(await s.archiveIfComplete(parent.parent_task_id), false, 'nothing left to archive');
  });

  test('a change that reopens an archived parent brings it back among the active ones', async () => {
    const s = await store();
    const parent = await storeParent(s, ['pending']);
    await s.update(parent.parent_task_id, completing(1));
    const reopened = await s.update(parent.parent_task_id, (current) => ({ ...current, status: 'active', completed_at: null, subtasks: current.subtasks.map((t) => ({ ...t, status: 'pending', results: null, completed_at: null })) }));
    assert.equal(await s.locationOf(parent.parent_task_id), 'active');
    assert.deepEqual(await s.read(parent.parent_task_id), stored(reopened));
  });

  test('archiveIfComplete: a completed parent still active is archived (true, once); an unfinished one stays (false)', async () => {
    const s = await store();
    const done = await storeParent(s, ['completed', 'completed']);
    const open = await storeParent(s, ['completed', 'pending']);
    assert.equal(await s.locationOf(done.parent_task_id), 'active', 'createWithId stores the parent as given');
    assert.equal(await s.archiveIfComplete(done.parent_task_id), true);
    assert.equal(await s.locationOf(done.parent_task_id), 'archive');
    assert.deepEqual(await s.read(done.parent_task_id), stored(done), 'archiving keeps the content');
    assert.equal(await s.archiveIfComplete(done.parent_task_id), false);
    assert.equal(await s.archiveIfComplete(open.parent_task_id), false);
    assert.equal(await s.locationOf(open.parent_task_id), 'active');
  });

  test('reservePlanKey: the first proposal is stored and returned; later proposals get the stored record', async () => {
    const s = await store();
    const first = keyRecord(await s.newParentId());
    assert.deepEqual(await s.reservePlanKey(sha(1), first), first);
    const later = { ...keyRecord(await s.newParentId(), 'b'.repeat(64)), at: tick(9) };
    assert.deepEqual(await s.reservePlanKey(sha(1), later), first);
    const other = keyRecord(await s.newParentId());
    assert.deepEqual(await s.reservePlanKey(sha(2), other), other, 'another key has a record of its own');
  });

  test('concurrent reservations of one key agree on one of the proposals', async () => {
    const s = await store();
    const proposals = await Promise.all(Array.from({ length: 10 }, async (_, i) => keyRecord(await s.newParentId(), sha(100 + i))));
    const records = await Promise.all(proposals.map((p) => s.reservePlanKey(sha(3), p)));
    for (const record of records) assert.deepEqual(record, records[0]);
    assert.ok(proposals.some((p) => p.parent_task_id === records[0]!.parent_task_id && p.args_sha256 === records[0]!.args_sha256));
    assert.deepEqual(await s.reservePlanKey(sha(3), keyRecord(await s.newParentId())), records[0], 'and it stays');
  });

  test('parentsOfSubtask: the parent holding a subtask (active or archived); none for an unknown id', async () => {
    const s = await store();
    const active = await storeParent(s, ['pending', 'pending']);
    const archived = await storeParent(s, ['pending']);
    await s.update(archived.parent_task_id, completing(1));
    assert.deepEqual(await s.parentsOfSubtask(`${active.parent_task_id}.2`), [active.parent_task_id]);
    assert.deepEqual(await s.parentsOfSubtask(`${archived.parent_task_id}.1`), [archived.parent_task_id]);
    assert.deepEqual(await s.parentsOfSubtask(`${active.parent_task_id}.9`), []);
    assert.deepEqual(await s.parentsOfSubtask(`${await s.newParentId()}.1`), []);
  });

  test('saveDocument stores a text under a path relative to .task_orchestrator/; the same number again replaces it', async () => {
    const s = await store();
    const parent = await storeParent(s, ['active']);
    const sub = `${parent.parent_task_id}.1`;
    const first = await s.saveDocument(parent.parent_task_id, sub, 'first draft', 1);
    assert.equal(typeof first, 'string');
    assert.ok(!first.startsWith('/') && !first.split('/').includes('..') && !first.includes('.task_orchestrator'), `a relative path inside the store: ${first}`);
    assert.equal(await shared.prepared.readDocument(first), 'first draft');
    const replaced = await s.saveDocument(parent.parent_task_id, sub, 'second draft', 1);
    assert.equal(replaced, first);
    assert.equal(await shared.prepared.readDocument(first), 'second draft');
    const second = await s.saveDocument(parent.parent_task_id, sub, 'another document', 2);
    assert.notEqual(second, first);
    assert.equal(await shared.prepared.readDocument(second), 'another document');
    assert.equal(await shared.prepared.readDocument(first), 'second draft', 'number 1 is untouched');
    const long = 'line of detailed work\n'.repeat(5_000);
    assert.equal(await shared.prepared.readDocument(await s.saveDocument(parent.parent_task_id, sub, long, 3)), long);
  });

  test('list: most recently updated first; archived parents only when asked; summaries follow updates', () =>
    withFreshStore(kind, async (fresh) => {
      const { store: s } = await fresh.main();
      assert.deepEqual(await s.list({ includeArchived: true }), []);
      const [a, b, c] = [await storeParent(s, ['pending', 'pending'], { updated_at: tick(1) }), await storeParent(s, ['pending'], { updated_at: tick(2) }), await storeParent(s, ['pending'], { updated_at: tick(3) })];
      const order = async (includeArchived: boolean) => (await s.list({ includeArchived })).map((p) => p.parent_task_id);
      assert.deepEqual(await order(false), [c!.parent_task_id, b!.parent_task_id, a!.parent_task_id]);

      const lease = { agent_id: 'agent-1', expires_at: tick(100) };
      await s.update(a!.parent_task_id, (p) => ({ ...p, updated_at: tick(4), subtasks: p.subtasks.map((t, i) => (i === 0 ? { ...t, status: 'active', lease } : t)) }));
      assert.deepEqual(await order(false), [a!.parent_task_id, c!.parent_task_id, b!.parent_task_id], 'an update moves a parent to the front');
      const summary = (await s.list({ includeArchived: false }))[0]!;
      assert.equal(summary.title, a!.title);
      assert.equal(summary.location, 'active');
      assert.equal(summary.status, 'active');
      assert.equal(summary.updated_at, tick(4));
      assert.deepEqual(summary.subtasks.map((t) => [t.task_id, t.title, t.status, t.specialist_type, t.lease]), [
        [`${a!.parent_task_id}.1`, a!.subtasks[0]!.title, 'active', 'implementer', lease],
        [`${a!.parent_task_id}.2`, a!.subtasks[1]!.title, 'pending', 'implementer', null],
      ]);

      await s.update(b!.parent_task_id, completing(1, tick(5)));
      assert.deepEqual(await order(false), [a!.parent_task_id, c!.parent_task_id], 'archived parents are left out');
      assert.deepEqual(await order(true), [b!.parent_task_id, a!.parent_task_id, c!.parent_task_id], 'and listed when asked, in the same order');
      const archived = (await s.list({ includeArchived: true }))[0]!;
      assert.deepEqual([archived.location, archived.status, archived.subtasks[0]!.status], ['archive', 'completed', 'completed']);
    }));

  test('statistics: subtasks per status and parents per place, over the parents list() considers', () =>
    withFreshStore(kind, async (fresh) => {
      const { store: s } = await fresh.main();
      const zero = { pending: 0, active: 0, completed: 0, blocked: 0, failed: 0 };
      assert.deepEqual(await s.statistics({ includeArchived: true }), { counts: zero, parents: { active: 0, archived: 0 }, withActiveSubtasks: [] });
      assert.deepEqual([s.readOnly, s.problems()], [false, []], 'a fresh store is writable and has no problems');
      const busy = await storeParent(s, ['pending', 'active', 'blocked'], { updated_at: tick(1) });
      const idle = await storeParent(s, ['completed', 'failed', 'pending'], { updated_at: tick(2) });
      const done = await storeParent(s, ['pending', 'completed']);
      await s.update(done.parent_task_id, completing(1, tick(3)));

      const active = await s.statistics({ includeArchived: false });
      assert.deepEqual(active.counts, { pending: 2, active: 1, completed: 1, blocked: 1, failed: 1 });
      assert.equal(active.parents.active, 2);
      assert.deepEqual(active.withActiveSubtasks.map((p) => p.parent_task_id), [busy.parent_task_id]);
      const all = await s.statistics({ includeArchived: true });
      assert.deepEqual(all.counts, { pending: 2, active: 1, completed: 3, blocked: 1, failed: 1 });
      assert.deepEqual(all.parents, { active: 2, archived: 1 });

      await s.update(busy.parent_task_id, (p) => ({ ...p, updated_at: tick(4), subtasks: p.subtasks.map((t) => (t.status === 'active' ? { ...t, status: 'pending', lease: null } : t)) }));
      await s.update(idle.parent_task_id, (p) => ({ ...p, updated_at: tick(5), subtasks: p.subtasks.map((t) => (t.status === 'pending' ? { ...t, status: 'active' } : t)) }));
      const moved = await s.statistics({ includeArchived: false });
      assert.deepEqual(moved.counts, { pending: 2, active: 1, completed: 1, blocked: 1, failed: 1 });
      assert.deepEqual(moved.withActiveSubtasks.map((p) => p.parent_task_id), [idle.parent_task_id], 'follows the updates');
    }));

  test('a second opening of the same store sees what the first one wrote (reads, listings, keys)', () =>
    withFreshStore(kind, async (fresh) => {
      const { store: one } = await fresh.main();
      const { store: two } = await fresh.open();
      const parent = await storeParent(one, ['pending', 'pending'], { updated_at: tick(1) });
      assert.deepEqual(await two.read(parent.parent_task_id), stored(parent));
      assert.deepEqual((await two.list({ includeArchived: false })).map((p) => p.parent_task_id), [parent.parent_task_id]);
      await two.update(parent.parent_task_id, completing(1, tick(2)));
      assert.equal((await one.list({ includeArchived: false }))[0]!.subtasks[0]!.status, 'completed');
      assert.equal((await one.statistics({ includeArchived: false })).counts.completed, 1);
      await one.update(parent.parent_task_id, completing(2, tick(3)));
      assert.equal(await two.locationOf(parent.parent_task_id), 'archive');
      assert.deepEqual((await two.list({ includeArchived: true })).map((p) => [p.parent_task_id, p.location]), [[parent.parent_task_id, 'archive']]);
      const record = keyRecord(parent.parent_task_id);
      assert.deepEqual(await one.reservePlanKey(sha(7), record), record);
      assert.deepEqual(await two.reservePlanKey(sha(7), keyRecord(await two.newParentId())), record);
      assert.deepEqual(await contentsOf(two), await contentsOf(one));
    }));

  test('a parent another opening completes leaves this one\'s active listing and counts (archive never listed here)', () =>
    withFreshStore(kind, async (fresh) => {
      const { store: one } = await fresh.main();
      const { store: two } = await fresh.open();
      const parent = await storeParent(one, ['pending', 'active'], { updated_at: tick(1) });
      const other = await storeParent(one, ['pending'], { updated_at: tick(2) });
      assert.deepEqual((await two.list({ includeArchived: false })).map((p) => p.parent_task_id), [other.parent_task_id, parent.parent_task_id]);
      await one.update(parent.parent_task_id, (p) => completing(2, tick(4))(completing(1, tick(3))(p)));
      assert.deepEqual((await two.list({ includeArchived: false })).map((p) => p.parent_task_id), [other.parent_task_id], 'the archived parent leaves the active listing');
      const counts = await two.statistics({ includeArchived: false });
      assert.deepEqual(counts.counts, { pending: 1, active: 0, completed: 0, blocked: 0, failed: 0 });
      assert.deepEqual([counts.parents.active, counts.withActiveSubtasks], [1, []]);
      assert.deepEqual((await two.list({ includeArchived: true })).map((p) => [p.parent_task_id, p.location]), [[parent.parent_task_id, 'archive'], [other.parent_task_id, 'active']]);
    }));

  test('removeArchived deletes archived, completed parents and their documents; anything else refuses the call with nothing deleted', async () => {
    const s = await store();
    const archived = await storeParent(s, ['completed', 'completed']);
    assert.equal(await s.archiveIfComplete(archived.parent_task_id), true);
    const document = await s.saveDocument(archived.parent_task_id, `${archived.parent_task_id}.1`, 'long work', 1);
    const second = await storeParent(s, ['completed']);
    assert.equal(await s.archiveIfComplete(second.parent_task_id), true);
    const active = await storeParent(s, ['completed', 'pending']);
    const unarchived = await storeParent(s, ['completed']); // completed, still active: not removable either

    for (const wrong of [active, unarchived]) {
      await refusal(s.removeArchived([archived.parent_task_id, wrong.parent_task_id]), 'INVALID_INPUT');
      assert.equal(await s.locationOf(archived.parent_task_id), 'archive', 'nothing deleted');
      assert.equal(await s.locationOf(wrong.parent_task_id), 'active');
    }
    assert.deepEqual((await s.removeArchived([archived.parent_task_id, second.parent_task_id])).sort(), [archived.parent_task_id, second.parent_task_id].sort());
    assert.equal(await s.locationOf(archived.parent_task_id), null);
    assert.equal(await s.readDocument(document), null, 'its documents go with it');
    const listed = (await s.list({ includeArchived: true })).map((p) => p.parent_task_id);
    assert.ok(!listed.includes(archived.parent_task_id) && !listed.includes(second.parent_task_id), 'listings drop them');
    assert.ok(listed.includes(active.parent_task_id));
    assert.deepEqual(await s.removeArchived([archived.parent_task_id]), [], 'removing again deletes nothing');
  });
});

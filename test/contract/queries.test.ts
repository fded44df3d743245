/**
 * initialize_session, get_status, get_history and maintenance through the Orchestrator, on every store
 * kind. Tests that count or order the whole store get a fresh store each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEvent } from '../../src/domain/history.js';
import { forEachStoreKind, idsOf, parentOf, refusal, samplePlan, sharedStore, withFreshStore } from './harness.js';

const LEASE_MS = 60_000;
const steps = (events: HistoryEvent[]) => events.map((e) => `${e.task_id} ${e.from} -> ${e.to} @${e.revision}`);
const onePlan = (title: string) => ({ description: `Goal: ${title}`, subtasks: [{ title, specialist_type: 'implementer' }] });

await forEachStoreKind('queries and maintenance through the Orchestrator', (kind) => {
  const shared = sharedStore(kind);

  test('initialize_session on an empty store: guidance and the seven roles, no tasks, no problems', () =>
    withFreshStore(kind, async (fresh) => {
      const { orchestrator } = await fresh.main();
      const session = await orchestrator.initializeSession();
      assert.equal(session.session_initialized, true);
      assert.equal(session.base_dir, fresh.prepared.baseDir);
      assert.deepEqual(Object.keys(session.orchestrator_context.specialist_roles).sort(), ['architect', 'debugger', 'documenter', 'implementer', 'researcher', 'reviewer', 'tester']);
      assert.deepEqual([session.active_tasks, session.active_task_count, session.next_cursor, session.storage_problem_count], [[], 0, null, 0]);
      assert.match(session.resume_hint, /No unfinished tasks/);
    }));

  test('initialize_session lists every unfinished task a page at a time, most recent first; an expired lease shows as interrupted', () =>
    withFreshStore(kind, async (fresh) => {
      const { orchestrator, clock } = await fresh.open({ settings: { leaseMs: LEASE_MS } });
      const planned: string[] = [];
      for (let i = 0; i < 23; i++) planned.push((await orchestrator.planTask(onePlan(`step ${i}`))).parent_task_id);
      await orchestrator.completeSubtask({ task_id: `${planned[3]}.1`, results: 'finished' });
      clock.advance(1_000); // updated strictly later than every plan, whatever the store's speed
      await orchestrator.executeSubtask({ task_id: `${planned[5]}.1`, agent_id: 'alice' });
      clock.advance(LEASE_MS + 1_000);

      const first = await orchestrator.initializeSession();
      assert.equal(first.active_task_count, 22, 'the finished task is left out');
      assert.equal(first.active_tasks.length, 20);
      assert.ok(first.next_cursor);
      const second = await orchestrator.initializeSession({ cursor: first.next_cursor });
      assert.equal(second.next_cursor, null);
      const shown = [...first.active_tasks, ...second.active_tasks];
      assert.deepEqual(shown.map((t) => t.parent_task_id).sort(), planned.filter((_, i) => i !== 3).sort(), 'each unfinished task once');
      assert.equal(shown[0]!.parent_task_id, planned[5], 'the most recently updated first');
      assert.ok(shown.every((t, i) => i === 0 || t.updated_at <= shown[i - 1]!.updated_at), 'most recent first');
      assert.deepEqual(shown[0]!.interrupted_subtasks.map((s) => [s.task_id, s.lease?.agent_id]), [[`${planned[5]}.1`, 'alice']]);
      assert.equal(shown[0]!.subtasks[0]!.lease?.expired, true);
    }));

  test('get_status: counts, pages of subtasks with a cursor, a status filter, archived parents when asked', () =>
    withFreshStore(kind, async (fresh) => {
      const { orchestrator } = await fresh.main();
      const many = await orchestrator.planTask({ description: 'Many steps', subtasks: Array.from({ length: 12 }, (_, i) => ({ title: `Step ${i + 1}`, specialist_type: 'implementer' })) });
      const done = await orchestrator.planTask({ description: 'Quick job', subtasks: [{ title: 'A', specialist_type: 'tester' }, { title: 'B', specialist_type: 'tester' }] });
      for (const id of done.execution_order) await orchestrator.completeSubtask({ task_id: id, results: 'ok' });
      await orchestrator.executeSubtask({ task_id: many.execution_order[0] });

      const status = await orchestrator.getStatus({});
      assert.deepEqual(status.counts, { pending: 11, active: 1, completed: 0, blocked: 0, failed: 0, total: 12 });
      assert.deepEqual(status.parents, { active: 1, archived: null });
      assert.equal(status.total_matching, 12);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await orchestrator.getStatus({ limit: 5, ...(cursor ? { cursor } : {}) });
        assert.ok(page.tasks.length <= 5);
        seen.push(...page.tasks.map((t) => t.task_id));
        cursor = page.next_cursor ?? undefined;
        assert.ok(++pages <= 3, 'the cursor moves on');
      } while (cursor);
      assert.deepEqual(seen, many.execution_order);

      const all = await orchestrator.getStatus({ include_completed: true });
      assert.deepEqual(all.counts, { pending: 11, active: 1, completed: 2, blocked: 0, failed: 0, total: 14 });
      assert.deepEqual(all.parents, { active: 1, archived: 1 });
      assert.deepEqual(all.tasks.filter((t) => t.parent_task_id === done.parent_task_id).map((t) => t.status), ['completed', 'completed']);
      const completed = await orchestrator.getStatus({ include_completed: true, status: 'completed' });
      assert.deepEqual([completed.total_matching, completed.tasks.map((t) => t.task_id)], [2, done.execution_order]);
      const active = await orchestrator.getStatus({ status: 'active' });
      assert.deepEqual(active.tasks.map((t) => [t.task_id, t.lease?.expired]), [[many.execution_order[0], false]]);
      const one = await orchestrator.getStatus({ parent_task_id: done.parent_task_id });
      assert.deepEqual(one.tasks.map((t) => t.task_id), done.execution_order, 'an archived parent by id, without include_completed');
      await refusal(orchestrator.getStatus({ parent_task_id: 'task_00000000ff' }), 'TASK_NOT_FOUND');
      await refusal(orchestrator.getStatus({ limit: 0 }), 'INVALID_INPUT');
    }));

  test('get_history: a whole orchestration in order, each event with its agent and the revision of its write; a subtask its own', async () => {
    const { orchestrator, store, sessionAgentId } = await shared.main();
    const plan = await orchestrator.planTask(samplePlan);
    const parent = plan.parent_task_id;
    const ids = idsOf(plan);
    await orchestrator.executeSubtask({ task_id: ids.design, agent_id: 'alice' });
    await orchestrator.completeSubtask({ task_id: ids.design, results: 'CSV with a header row', agent_id: 'alice' });
    await orchestrator.executeSubtask({ task_id: ids.build });
    await orchestrator.completeSubtask({ task_id: ids.build, results: 'Streams break on Safari', next_action: 'needs_revision' });
    await orchestrator.completeSubtask({ task_id: ids.test, results: 'tests written ahead', force: true });
    await orchestrator.executeSubtask({ task_id: ids.build });
    await orchestrator.completeSubtask({ task_id: ids.build, summary: 'Implemented', detailed_work: 'diff '.repeat(1000) });
    await orchestrator.completeSubtask({ task_id: ids.build, summary: 'Implemented', detailed_work: 'diff '.repeat(1000) }); // a retry: nothing new
    await orchestrator.executeSubtask({ task_id: ids.docs });
    await orchestrator.completeSubtask({ task_id: ids.docs, results: 'waiting for the style guide', next_action: 'blocked' });
    await orchestrator.executeSubtask({ task_id: ids.docs });
    await orchestrator.completeSubtask({ task_id: ids.docs, results: 'docs done' });

    const history = await orchestrator.getHistory({ task_id: parent });
    assert.equal(history.kind, 'parent');
    assert.deepEqual(steps(history.events), [
      `${parent} null -> active @1`,
      `${ids.design} pending -> active @2`,
      `${ids.design} active -> completed @3`,
      `${ids.build} pending -> active @4`,
      `${ids.build} active -> pending @5`,
      `${ids.test} pending -> completed @6`,
      `${ids.build} pending -> active @7`,
      `${ids.build} active -> completed @8`,
      `${ids.docs} pending -> active @9`,
      `${ids.docs} active -> blocked @10`,
      `${ids.docs} blocked -> active @11`,
      `${ids.docs} active -> completed @12`,
      `${parent} active -> archived @12`,
    ]);
    assert.equal(history.total_events, 13);
    assert.deepEqual(history.events.map((e) => e.agent), [sessionAgentId, 'alice', 'alice', ...Array(10).fill(sessionAgentId)]);
    assert.ok(history.events.every((e, i) => i === 0 || e.at >= history.events[i - 1]!.at), 'times in order');
    assert.equal(history.events[5]!.note, `forced past ${ids.build}; tests written ahead`);
    assert.equal((await store.read(parent)).revision, 12, 'the events carry the revisions the store gave');

    const build = await orchestrator.getHistory({ task_id: ids.build });
    assert.deepEqual([build.kind, build.parent_task_id], ['subtask', parent]);
    assert.deepEqual(steps(build.events), [`${ids.build} pending -> active @4`, `${ids.build} active -> pending @5`, `${ids.build} pending -> active @7`, `${ids.build} active -> completed @8`]);

    const paged: HistoryEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await orchestrator.getHistory({ task_id: parent, limit: 5, ...(cursor ? { cursor } : {}) });
      paged.push(...page.events);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(paged, history.events);
    await refusal(orchestrator.getHistory({ task_id: await store.newParentId() }), 'TASK_NOT_FOUND');
  });

  test('maintenance report: a healthy store has no problems', async () => {
    const { orchestrator } = await shared.main();
    const report = await orchestrator.maintain({ action: 'report' });
    assert.equal(report.counts.problems, 0, JSON.stringify(report.items));
    assert.match(report.summary, /^Healthy/);
    await refusal(orchestrator.maintain({ action: 'delete' }), 'INVALID_INPUT');
  });

  test('maintenance release_expired_leases: an expired lease goes back to pending, recorded; a live one stays', async () => {
    const { orchestrator, store, clock } = await shared.open({ settings: { leaseMs: LEASE_MS } });
    const plan = await orchestrator.planTask({ description: 'Two parallel steps', subtasks: [{ title: 'Left', specialist_type: 'implementer' }, { title: 'Right', specialist_type: 'implementer' }] });
    const [left, right] = plan.execution_order as [string, string];
    await orchestrator.executeSubtask({ task_id: left, agent_id: 'agent-a' });
    clock.advance(LEASE_MS / 2);
    const live = await orchestrator.executeSubtask({ task_id: right, agent_id: 'agent-b' });
    clock.advance(LEASE_MS / 2 + 1_000);

    const reply = await orchestrator.maintain({ action: 'release_expired_leases' });
    assert.deepEqual(reply.items.map((i) => i.task_id), [left]);
    assert.match(String(reply.items[0]!.reason), /agent-a expired/);
    const after = await store.read(plan.parent_task_id);
    assert.deepEqual([after.subtasks[0]!.status, after.subtasks[0]!.lease, after.subtasks[0]!.active_owner], ['pending', null, null]);
    assert.equal(after.subtasks[1]!.status, 'active', 'an unexpired lease is kept');
    assert.deepEqual(after.subtasks[1]!.lease, live.lease);
    const history = await orchestrator.getHistory({ task_id: left });
    assert.equal(steps(history.events).at(-1), `${left} active -> pending @${after.revision}`);
    assert.match(history.events.at(-1)!.note!, /^released: the lease of agent-a expired/);
    assert.equal((await orchestrator.maintain({ action: 'release_expired_leases' })).total_items, 0, 'nothing left to release');
    assert.equal((await orchestrator.executeSubtask({ task_id: left, agent_id: 'agent-c' })).lease.agent_id, 'agent-c', 'free for anyone');
  });

  test('maintenance archive_finished archives a completed parent that is still active', () =>
    withFreshStore(kind, async (fresh) => {
      const { orchestrator, store } = await fresh.main();
      const { parent } = await store.createWithId(parentOf(await store.newParentId(), ['completed', 'completed']));
      await orchestrator.planTask(onePlan('unfinished'));
      assert.deepEqual((await orchestrator.getStatus({ include_completed: true })).parents, { active: 2, archived: 0 });
      const reply = await orchestrator.maintain({ action: 'archive_finished' });
      assert.deepEqual(reply.items.map((i) => i.parent_task_id), [parent.parent_task_id]);
      assert.equal(await store.locationOf(parent.parent_task_id), 'archive');
      assert.deepEqual((await orchestrator.getStatus({ include_completed: true })).parents, { active: 1, archived: 1 });
      assert.equal((await orchestrator.maintain({ action: 'archive_finished' })).total_items, 0);
    }));
});

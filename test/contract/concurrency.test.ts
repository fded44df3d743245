/**
 * Two openings of one store (two openProject calls on the same place, as two servers would make),
 * each with its own session agent, racing each other through the Orchestrator, on every store kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachStoreKind, refusal, withFreshStore } from './harness.js';

const RACES = 20;

await forEachStoreKind('two openings of one store, racing', (kind) => {
  test(`execute_subtask on one subtask from both: exactly one winner, every run (${RACES} runs)`, () =>
    withFreshStore(kind, async (fresh) => {
      const [a, b] = [await fresh.open(), await fresh.open()];
      const wins = { [a.sessionAgentId]: 0, [b.sessionAgentId]: 0 };
      for (let run = 0; run < RACES; run++) {
        const plan = await (run % 2 ? a : b).orchestrator.planTask({ description: `Race ${run}`, subtasks: [{ title: 'The only step', specialist_type: 'implementer' }] });
        const [taskId] = plan.execution_order as [string];
        const outcomes = await Promise.allSettled([a.orchestrator.executeSubtask({ task_id: taskId }), b.orchestrator.executeSubtask({ task_id: taskId })]);
        const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        assert.equal(winners.length, 1, `run ${run}: ${outcomes.map((o) => o.status).join(', ')}`);
        const loser = outcomes.find((o) => o.status === 'rejected')!;
        await refusal(Promise.reject(loser.reason), 'SUBTASK_CLAIMED');
        const winner = winners[0]!.lease.agent_id;
        wins[winner]!++;
        const stored = (await a.store.read(plan.parent_task_id)).subtasks[0]!;
        assert.deepEqual([stored.status, stored.lease?.agent_id], ['active', winner], `run ${run}: the store names the winner`);
        const starts = (await b.orchestrator.getHistory({ task_id: taskId })).events.filter((e) => e.to === 'active');
        assert.deepEqual(starts.map((e) => e.agent), [winner], `run ${run}: one start recorded`);
      }
      assert.equal(wins[a.sessionAgentId]! + wins[b.sessionAgentId]!, RACES);
    }));

  test('complete_subtask on the subtasks of one parent from both at once: every result kept (0 lost), archived once', () =>
    withFreshStore(kind, async (fresh) => {
      const [a, b] = [await fresh.open(), await fresh.open()];
      const plan = await a.orchestrator.planTask({ description: 'Shared work', subtasks: Array.from({ length: 12 }, (_, i) => ({ title: `Part ${i + 1}`, specialist_type: 'implementer' })) });
      const replies = await Promise.all(plan.execution_order.map((taskId, i) => (i % 2 ? a : b).orchestrator.completeSubtask({ task_id: taskId, results: `result ${i}` })));
      assert.equal(replies.filter((r) => r.parent_completed).length, 1, 'exactly one call completes the parent');
      const parent = await b.store.read(plan.parent_task_id);
      assert.deepEqual(parent.subtasks.map((s) => s.results), plan.execution_order.map((_, i) => `result ${i}`));
      assert.equal(parent.revision, 1 + 12, 'one write per completion');
      assert.equal(await a.store.locationOf(plan.parent_task_id), 'archive');
      const events = (await a.orchestrator.getHistory({ task_id: plan.parent_task_id })).events;
      assert.equal(events.filter((e) => e.to === 'completed').length, 12);
      assert.equal(events.filter((e) => e.to === 'archived').length, 1);
    }));

  test('plan_task with one idempotency_key from both at once: one parent, the same reply for every call', () =>
    withFreshStore(kind, async (fresh) => {
      const [a, b] = [await fresh.open(), await fresh.open()];
      const request = { description: 'Planned once', subtasks: [{ title: 'Step', specialist_type: 'implementer' }], idempotency_key: 'shared-plan-key' };
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).orchestrator.planTask(request)));
      const ids = new Set(replies.map((r) => r.parent_task_id));
      assert.equal(ids.size, 1, 'one parent');
      assert.equal(replies.filter((r) => r.replayed !== true).length, 1, 'one call created it, the others replayed it');
      assert.deepEqual((await a.store.list({ includeArchived: true })).map((p) => p.parent_task_id), [...ids]);
    }));

  test('complete_subtask with one idempotency_key from both at once: recorded once, the same reply for every call', () =>
    withFreshStore(kind, async (fresh) => {
      const [a, b] = [await fresh.open(), await fresh.open()];
      const plan = await a.orchestrator.planTask({ description: 'Two steps', subtasks: [{ title: 'One', specialist_type: 'implementer' }, { title: 'Two', specialist_type: 'implementer' }] });
      const call = { task_id: plan.execution_order[0], results: 'done once', idempotency_key: 'shared-complete-key' };
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).orchestrator.completeSubtask(call)));
      const first = replies.find((r) => r.replayed !== true)!;
      assert.equal(replies.filter((r) => r.replayed !== true).length, 1);
      for (const reply of replies) assert.deepEqual({ ...reply, replayed: undefined }, { ...first, replayed: undefined });
      assert.equal((await b.store.read(plan.parent_task_id)).revision, 2, 'one write');
    }));
});

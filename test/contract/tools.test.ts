/**
 * plan_task, execute_subtask, complete_subtask and synthesize_results through the Orchestrator (the use
 * cases behind the MCP tools), on every store kind. test/mcp/tools.test.ts covers the MCP layer itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Orchestrator } from '../../src/app/orchestrator.js';
import type { TaskStore } from '../../src/app/ports.js';
import { contentsOf, forEachStoreKind, idsOf, refusal, samplePlan, sharedStore, TestClock } from './harness.js';

const LEASE_MS = 60_000;
const subtaskIn = async (store: TaskStore, parentTaskId: string, taskId: string) => (await store.read(parentTaskId)).subtasks.find((s) => s.task_id === taskId)!;
const onePlan = (title: string) => ({ description: `Goal: ${title}`, subtasks: [{ title, specialist_type: 'implementer' }] });

await forEachStoreKind('tools through the Orchestrator', (kind) => {
  const shared = sharedStore(kind);
  const opened = () => shared.main();
  const app = async (): Promise<Orchestrator> => (await opened()).orchestrator;

  test('plan_task stores the plan: fresh ids, dependencies by handle and by title, an order that respects them', async () => {
    const { orchestrator, store } = await opened();
    const plan = await orchestrator.planTask({
      description: 'Ship the API',
      subtasks: [
        { title: 'Design the API', specialist_type: 'architect' },
        { task_id: 'build', title: 'Build it', specialist_type: 'implementer', dependencies: ['design the  api'] },
        { title: 'Review it', specialist_type: 'Reviewer', dependencies: ['build', 'Design the API'] },
      ],
    });
    const [design, build, review] = plan.subtasks.map((s) => s.task_id) as [string, string, string];
    assert.match(plan.parent_task_id, /^task_[0-9a-f]{10}$/);
    assert.deepEqual([design, build, review], [1, 2, 3].map((n) => `${plan.parent_task_id}.${n}`));
    assert.deepEqual(plan.execution_order, [design, build, review]);
    const parent = await store.read(plan.parent_task_id);
    assert.deepEqual(parent.subtasks.map((s) => [s.task_id, s.status, s.specialist_type, s.dependencies]), [
      [design, 'pending', 'architect', []],
      [build, 'pending', 'implementer', [design]],
      [review, 'pending', 'reviewer', [build, design]],
    ]);
    assert.equal(parent.revision, 1);
    assert.equal(await store.locationOf(plan.parent_task_id), 'active');
    assert.deepEqual(await store.parentsOfSubtask(review), [plan.parent_task_id]);
  });

  test('a refused plan changes nothing, and does not use up its idempotency key', async () => {
    const { orchestrator, store } = await opened();
    const before = await contentsOf(store);
    const bad: [Record<string, unknown>, Parameters<typeof refusal>[1]][] = [
      [{ description: 'x', subtasks_json: '[{"title": "a",' }, 'INVALID_PLAN'],
      [{ description: 'x', subtasks: [{ title: 'a', specialist_type: 'wizard' }] }, 'UNKNOWN_ROLE'],
      [{ description: 'x', subtasks: [{ task_id: 'a', title: 'a', specialist_type: 'tester', dependencies: ['nope'] }] }, 'UNKNOWN_DEPENDENCY'],
      [{ description: 'x', subtasks: [{ task_id: 'a', title: 'a', specialist_type: 'tester', dependencies: ['b'] }, { task_id: 'b', title: 'b', specialist_type: 'tester', dependencies: ['a'] }] }, 'DEPENDENCY_CYCLE'],
      [{ description: 'x', subtasks: [{ task_id: 'a', title: 'a', specialist_type: 'tester' }, { task_id: 'a', title: 'b', specialist_type: 'tester' }] }, 'DUPLICATE_TASK_ID'],
      [{ description: 'x', subtasks: [] }, 'INVALID_PLAN'],
      [{ description: '', subtasks: [{ title: 'a', specialist_type: 'tester' }] }, 'INVALID_INPUT'],
    ];
    for (const [request, code] of bad) await refusal(orchestrator.planTask(request as never), code);
    await refusal(orchestrator.planTask({ description: 'x', subtasks: [{ title: 'a', specialist_type: 'wizard' }], idempotency_key: 'plan-refused-first' }), 'UNKNOWN_ROLE');
    assert.deepEqual(await contentsOf(store), before, 'nothing stored');
    const fixed = await orchestrator.planTask({ ...onePlan('fixed'), idempotency_key: 'plan-refused-first' });
    assert.equal(fixed.replayed, undefined, 'the key was free: a new parent');
    assert.equal((await store.read(fixed.parent_task_id)).subtasks[0]!.title, 'fixed');
  });

  test('plan_task with an idempotency_key: a retry (from any opening) gets the same parent; other arguments get IDEMPOTENCY_CONFLICT', async () => {
    const { orchestrator, store } = await opened();
    const other = (await shared.open()).orchestrator;
    const first = await orchestrator.planTask({ ...samplePlan, idempotency_key: 'plan-key-1' });
    const before = await contentsOf(store);
    const retry = await orchestrator.planTask({ ...samplePlan, idempotency_key: 'plan-key-1' });
    assert.deepEqual(retry, { ...first, replayed: true });
    assert.deepEqual(await other.planTask({ ...samplePlan, idempotency_key: 'plan-key-1' }), { ...first, replayed: true });
    const conflict = await refusal(orchestrator.planTask({ ...samplePlan, description: 'Something else', idempotency_key: 'plan-key-1' }), 'IDEMPOTENCY_CONFLICT');
    assert.equal(conflict.data.parent_task_id, first.parent_task_id);
    assert.deepEqual(await contentsOf(store), before, 'no second parent, no change');
  });

  test('execute_subtask marks the subtask active under a lease for the agent and returns the role prompt', async () => {
    const { orchestrator, store, clock, sessionAgentId } = await shared.open({ settings: { leaseMs: LEASE_MS } });
    const plan = await orchestrator.planTask(samplePlan);
    const ids = idsOf(plan);
    const from = clock.now().getTime();
    const started = await orchestrator.executeSubtask({ task_id: ids.design });
    const until = clock.now().getTime();
    assert.equal(started.status, 'active');
    assert.equal(started.lease.agent_id, sessionAgentId, 'without agent_id the session is the agent');
    const expires = Date.parse(started.lease.expires_at);
    assert.ok(expires >= from + LEASE_MS && expires <= until + LEASE_MS, `the lease runs leaseMs: ${started.lease.expires_at}`);
    for (const part of ['software architect', 'Add CSV export', 'packages/reports', 'Decide format and API']) assert.ok(started.specialist_prompt.includes(part), part);
    const stored = await subtaskIn(store, plan.parent_task_id, ids.design!);
    assert.equal(stored.status, 'active');
    assert.deepEqual(stored.lease, started.lease);
    assert.ok(stored.active_owner, 'the process that started it is recorded');
    const named = await orchestrator.executeSubtask({ task_id: ids.docs, agent_id: ' writer-1 ', force: true });
    assert.equal(named.lease.agent_id, 'writer-1');
  });

  test('another agent is refused with SUBTASK_CLAIMED, changing nothing; the holder renews its lease', async () => {
    const { orchestrator, store, clock } = await shared.open({ settings: { leaseMs: LEASE_MS } });
    const plan = await orchestrator.planTask(samplePlan);
    const design = idsOf(plan).design!;
    const claim = await orchestrator.executeSubtask({ task_id: design, agent_id: 'alice' });
    const before = await store.read(plan.parent_task_id);
    const refused = await refusal(orchestrator.executeSubtask({ task_id: design, agent_id: 'bob' }), 'SUBTASK_CLAIMED');
    assert.deepEqual(refused.data, { task_id: design, holder: 'alice', expires_at: claim.lease.expires_at });
    await refusal(orchestrator.completeSubtask({ task_id: design, results: 'bob did it', agent_id: 'bob' }), 'SUBTASK_CLAIMED');
    assert.deepEqual(await store.read(plan.parent_task_id), before, 'refusals write nothing');
    clock.advance(LEASE_MS / 2);
    const renewed = await orchestrator.executeSubtask({ task_id: design, agent_id: 'alice' });
    assert.equal(renewed.lease.agent_id, 'alice');
    assert.ok(Date.parse(renewed.lease.expires_at) >= Date.parse(claim.lease.expires_at) + LEASE_MS / 2, 'renewed from now');
    assert.deepEqual((await subtaskIn(store, plan.parent_task_id, design)).lease, renewed.lease);
  });

  test('after the lease expires another agent (another opening) takes over; the first one then gets LEASE_LOST, its results kept', async () => {
    const clock = new TestClock();
    const first = await shared.open({ settings: { leaseMs: LEASE_MS }, clock });
    const second = await shared.open({ settings: { leaseMs: LEASE_MS }, clock });
    const plan = await first.orchestrator.planTask(samplePlan);
    const design = idsOf(plan).design!;
    const claim = await first.orchestrator.executeSubtask({ task_id: design });
    clock.advance(LEASE_MS + 1_000);
    const takeover = await second.orchestrator.executeSubtask({ task_id: design });
    assert.equal(takeover.lease.agent_id, second.sessionAgentId);
    const lost = await refusal(first.orchestrator.completeSubtask({ task_id: design, results: 'finished late' }), 'LEASE_LOST');
    assert.equal(lost.data.holder, second.sessionAgentId);
    assert.equal(lost.data.agent_id, first.sessionAgentId);
    assert.equal((lost.data.kept_results as { results: string }).results, 'finished late', 'the results come back in the refusal');
    const stored = await subtaskIn(first.store, plan.parent_task_id, design);
    assert.deepEqual(stored.lost_results?.map((r) => [r.agent_id, r.results]), [[first.sessionAgentId, 'finished late']], 'and are kept on the subtask');
    assert.deepEqual(stored.lost_leases?.map((l) => [l.agent_id, l.expires_at]), [[first.sessionAgentId, claim.lease.expires_at]]);
    assert.equal(stored.status, 'active');
    assert.deepEqual(stored.lease, takeover.lease);
    const done = await second.orchestrator.completeSubtask({ task_id: design, results: 'finished in time' });
    assert.equal(done.status, 'completed');
  });

  test('execute_subtask refuses a subtask whose dependencies are unfinished (nothing changes); force starts it and says so', async () => {
    const { orchestrator, store } = await opened();
    const plan = await orchestrator.planTask(samplePlan);
    const ids = idsOf(plan);
    const before = await store.read(plan.parent_task_id);
    const refused = await refusal(orchestrator.executeSubtask({ task_id: ids.build }), 'UNMET_DEPENDENCIES');
    assert.match(refused.message, /Design the export/);
    assert.deepEqual(await store.read(plan.parent_task_id), before);
    const forced = await orchestrator.executeSubtask({ task_id: ids.build, force: true });
    assert.deepEqual(forced.forced_past_dependencies, [ids.design]);
    assert.equal((await subtaskIn(store, plan.parent_task_id, ids.build!)).status, 'active');
    await refusal(orchestrator.executeSubtask({ task_id: `${plan.parent_task_id}.9` }), 'TASK_NOT_FOUND');
    await refusal(orchestrator.executeSubtask({ task_id: plan.parent_task_id }), 'TASK_NOT_FOUND');
  });

  test('complete_subtask stores results and artifacts, reports progress and the next subtask; long detailed_work goes to a document', async () => {
    const { orchestrator, store } = await opened();
    const plan = await orchestrator.planTask(samplePlan);
    const ids = idsOf(plan);
    await orchestrator.executeSubtask({ task_id: ids.design });
    const done = await orchestrator.completeSubtask({ task_id: ids.design, results: 'CSV with a header row; GET /reports/:id.csv', artifacts: ['docs/adr/7-csv.md'], artifact_type: 'design' });
    assert.equal(done.status, 'completed');
    assert.equal(done.already_recorded, false);
    assert.deepEqual(done.parent_task_progress, { parent_task_id: plan.parent_task_id, completed_subtasks: 1, total_subtasks: 4, progress_percentage: 25 });
    assert.equal(done.next_recommended_task?.task_id, ids.build);
    const design = await subtaskIn(store, plan.parent_task_id, ids.design!);
    assert.deepEqual([design.status, design.results, design.artifacts, design.artifact_type, design.lease], ['completed', 'CSV with a header row; GET /reports/:id.csv', ['docs/adr/7-csv.md'], 'design', null]);

    const next = await orchestrator.executeSubtask({ task_id: ids.build });
    assert.deepEqual(next.dependency_results.map((d) => [d.task_id, d.results]), [[ids.design, 'CSV with a header row; GET /reports/:id.csv']]);
    const detailed = 'diff --git a/x b/x\n'.repeat(500);
    const built = await orchestrator.completeSubtask({ task_id: ids.build, summary: 'Implemented', detailed_work: detailed, file_paths: ['src/export.ts'] });
    assert.ok(built.detailed_work_file, 'long detailed work is stored as a document');
    assert.equal(await shared.prepared.readDocument(built.detailed_work_file!), detailed.trim());
    const build = await subtaskIn(store, plan.parent_task_id, ids.build!);
    assert.deepEqual([build.results, build.detailed_work_file, build.artifacts], ['Implemented', built.detailed_work_file, ['src/export.ts']]);
    const again = await orchestrator.completeSubtask({ task_id: ids.build, summary: 'Implemented', detailed_work: detailed, file_paths: ['src/export.ts'] });
    assert.equal(again.already_recorded, true, 'the same call again is harmless');
    assert.equal(again.detailed_work_file, built.detailed_work_file);
  });

  test('next_action: needs_revision sends the subtask back to pending with notes, blocked records why', async () => {
    const { orchestrator, store } = await opened();
    const plan = await orchestrator.planTask({ description: 'Fix the login bug', subtasks: [{ title: 'Find the cause', specialist_type: 'debugger' }, { title: 'Review the fix', specialist_type: 'reviewer' }] });
    const [first, second] = plan.execution_order as [string, string];
    await orchestrator.executeSubtask({ task_id: first });
    const revised = await orchestrator.completeSubtask({ task_id: first, results: 'Guessed wrong: not the cookie', next_action: 'needs_revision' });
    assert.equal(revised.status, 'pending');
    const again = await orchestrator.executeSubtask({ task_id: first });
    assert.match(again.specialist_prompt, /Guessed wrong: not the cookie/);
    const blocked = await orchestrator.completeSubtask({ task_id: second, results: 'Waiting for access to the auth service', next_action: 'blocked' });
    assert.equal(blocked.status, 'blocked');
    const parent = await store.read(plan.parent_task_id);
    assert.deepEqual(parent.subtasks.map((s) => [s.status, s.revision_notes ?? [], s.blocked_reason ?? null]), [
      ['active', ['Guessed wrong: not the cookie'], null],
      ['blocked', [], 'Waiting for access to the auth service'],
    ]);
  });

  test('complete_subtask with an idempotency_key: a retry from any opening gets the first reply; other arguments get IDEMPOTENCY_CONFLICT', async () => {
    const { orchestrator, store } = await opened();
    const other = (await shared.open()).orchestrator;
    const plan = await orchestrator.planTask({ description: 'Two steps', subtasks: [{ title: 'One', specialist_type: 'implementer' }, { title: 'Two', specialist_type: 'implementer' }] });
    const [one] = plan.execution_order as [string];
    const call = { task_id: one, results: 'Done once', idempotency_key: 'complete-key-1' };
    const first = await orchestrator.completeSubtask(call);
    const before = await store.read(plan.parent_task_id);
    assert.deepEqual(await orchestrator.completeSubtask(call), { ...first, replayed: true });
    assert.deepEqual(await other.completeSubtask(call), { ...first, replayed: true }, 'another opening (another session) replays it too');
    const conflict = await refusal(orchestrator.completeSubtask({ ...call, results: 'Done differently' }), 'IDEMPOTENCY_CONFLICT');
    assert.match(conflict.message, /idempotency/i);
    assert.deepEqual(await store.read(plan.parent_task_id), before, 'retries and conflicts write nothing');
  });

  test('complete_subtask ahead of unfinished dependencies: refused, or recorded with force, which it reports', async () => {
    const { orchestrator, store } = await opened();
    const plan = await orchestrator.planTask(samplePlan);
    const ids = idsOf(plan);
    const before = await store.read(plan.parent_task_id);
    await refusal(orchestrator.completeSubtask({ task_id: ids.test, results: 'tests written ahead' }), 'UNMET_DEPENDENCIES');
    assert.deepEqual(await store.read(plan.parent_task_id), before);
    const forced = await orchestrator.completeSubtask({ task_id: ids.test, results: 'tests written ahead', force: true });
    assert.equal(forced.status, 'completed');
    assert.deepEqual(forced.forced_past_dependencies, [ids.build]);
    assert.deepEqual((await subtaskIn(store, plan.parent_task_id, ids.test!)).forced_past_dependencies, [ids.build]);
    await refusal(orchestrator.completeSubtask({ task_id: ids.design }), 'INVALID_INPUT');
  });

  test('synthesize_results: honest about unfinished work; the last completion archives the parent and the report is complete', async () => {
    const { orchestrator, store } = await opened();
    const plan = await orchestrator.planTask(samplePlan);
    const ids = idsOf(plan);
    await orchestrator.completeSubtask({ task_id: ids.design, results: 'CSV with a header row' });
    const partial = await orchestrator.synthesizeResults({ parent_task_id: plan.parent_task_id });
    assert.equal(partial.complete, false);
    assert.equal(partial.archived, false);
    assert.deepEqual(partial.unfinished.map((u) => u.task_id).sort(), [ids.build, ids.test, ids.docs].sort());
    for (const handle of ['build', 'test', 'docs']) {
      const reply = await orchestrator.completeSubtask({ task_id: ids[handle], results: `${handle} done`, next_action: 'complete' });
      assert.equal(reply.parent_completed, handle === 'docs');
    }
    assert.equal(await store.locationOf(plan.parent_task_id), 'archive');
    const parent = await store.read(plan.parent_task_id);
    assert.equal(parent.status, 'completed');
    const report = await orchestrator.synthesizeResults({ parent_task_id: plan.parent_task_id });
    assert.equal(report.complete, true);
    assert.equal(report.archived, true);
    assert.deepEqual(report.by_role.map((g) => g.specialist_type), ['architect', 'implementer', 'tester', 'documenter']);
    assert.match(report.report, /CSV with a header row/);
    await refusal(orchestrator.synthesizeResults({ parent_task_id: (await store.newParentId()) }), 'TASK_NOT_FOUND');
  });

  test('the use cases keep working after every refusal above', async () => {
    const plan = await (await app()).planTask(onePlan('still fine'));
    assert.equal((await (await app()).completeSubtask({ task_id: plan.execution_order[0], results: 'ok' })).parent_completed, true);
  });
});

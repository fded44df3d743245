import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { connectSpawned, samplePlan, tempProject, type Connection } from '../mcp/harness.js';

/**
 * Leases and idempotency keys across real server processes (`task-orchestrator serve` over stdio),
 * sharing one project folder. Uses dist/: `npm run build` first.
 */

const LEASE_1S = { MCP_TASK_ORCHESTRATOR_LEASE_SECONDS: '1' };

async function servers(dir: string, count: number, env: Record<string, string> = {}): Promise<Connection[]> {
  return Promise.all(Array.from({ length: count }, () => connectSpawned(dir, env)));
}

async function closeAll(connections: Connection[]): Promise<void> {
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
}

async function taskFile(dir: string, parentTaskId: string): Promise<any> {
  for (const folder of ['active', 'archive']) {
    const text = await readFile(path.join(dir, '.task_orchestrator/tasks', folder, `${parentTaskId}.json`), 'utf8').catch(() => null);
    if (text) return JSON.parse(text);
  }
  assert.fail(`no file for ${parentTaskId}`);
}

describe('subtask leases across server processes', () => {
  test('claim, refusal, expiry, takeover, and LEASE_LOST with the results kept', async () => {
    const project = await tempProject();
    const [a, b] = await servers(project.dir, 2, LEASE_1S);
    try {
      const plan = await a!.call('orchestrator_plan_task', samplePlan);
      const design = plan.data.execution_order[0] as string;

      const claim = await a!.call('orchestrator_execute_subtask', { task_id: design, agent_id: 'alice' });
      assert.equal(claim.isError, false, claim.text);
      assert.equal(claim.data.lease.agent_id, 'alice');
      assert.ok(Date.parse(claim.data.lease.expires_at) > Date.now());

      const refused = await b!.call('orchestrator_execute_subtask', { task_id: design, agent_id: 'bob' });
      assert.equal(refused.error?.code, 'SUBTASK_CLAIMED', refused.text);
      assert.deepEqual(refused.error?.data, { task_id: design, holder: 'alice', expires_at: claim.data.lease.expires_at });
      assert.match(refused.text, /agent "alice"/);
      const refusedCompletion = await b!.call('orchestrator_complete_subtask', { task_id: design, results: 'bob did it', agent_id: 'bob' });
      assert.equal(refusedCompletion.error?.code, 'SUBTASK_CLAIMED', refusedCompletion.text);

      const held = await b!.call('orchestrator_get_status', { parent_task_id: plan.data.parent_task_id });
      const row = held.data.tasks.find((t: any) => t.task_id === design);
      assert.deepEqual([row.lease.agent_id, row.lease.expired, row.interrupted], ['alice', false, false]);

      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const expired = await b!.call('orchestrator_initialize_session');
      const view = expired.data.active_tasks.find((t: any) => t.parent_task_id === plan.data.parent_task_id);
      assert.deepEqual(view.interrupted_subtasks.map((s: any) => [s.task_id, s.lease.agent_id]), [[design, 'alice']], 'an expired lease counts as interrupted');
      assert.equal(view.subtasks.find((s: any) => s.task_id === design).lease.expired, true);

      const takeover = await b!.call('orchestrator_execute_subtask', { task_id: design, agent_id: 'bob' });
      assert.equal(takeover.isError, false, takeover.text);
      assert.equal(takeover.data.lease.agent_id, 'bob');

      const late = await a!.call('orchestrator_complete_subtask', { task_id: design, results: 'alice finished late', agent_id: 'alice' });
      assert.equal(late.error?.code, 'LEASE_LOST', late.text);
      assert.equal(late.error?.data?.holder, 'bob');
      assert.equal((late.error?.data?.kept_results as any).results, 'alice finished late', 'the results come back in the refusal');
      const stored = (await taskFile(project.dir, plan.data.parent_task_id)).subtasks.find((s: any) => s.task_id === design);
      assert.deepEqual(stored.lost_results.map((r: any) => [r.agent_id, r.results]), [['alice', 'alice finished late']], 'and are kept on the subtask');
      assert.equal(stored.status, 'active');
      assert.equal(stored.lease.agent_id, 'bob');

      const done = await b!.call('orchestrator_complete_subtask', { task_id: design, results: 'bob finished', agent_id: 'bob' });
      assert.equal(done.isError, false, done.text);
      assert.equal(done.data.status, 'completed');
    } finally {
      await closeAll([a!, b!]);
      await project.remove();
    }
  });

  test('eight servers race to execute one ready subtask: exactly one wins, the others are told who holds it', async () => {
    const project = await tempProject();
    const racers = await servers(project.dir, 8);
    try {
      const plan = await racers[0]!.call('orchestrator_plan_task', samplePlan);
      const design = plan.data.execution_order[0] as string;
      const replies = await Promise.all(racers.map((r) => r.call('orchestrator_execute_subtask', { task_id: design })));
      const winners = replies.filter((r) => !r.isError);
      assert.equal(winners.length, 1, replies.map((r) => r.text.slice(0, 120)).join('\n'));
      const holder = winners[0]!.data.lease.agent_id as string;
      assert.match(holder, /^session-/);
      for (const loser of replies.filter((r) => r.isError)) {
        assert.equal(loser.error?.code, 'SUBTASK_CLAIMED', loser.text);
        assert.equal(loser.error?.data?.holder, holder);
      }
      const stored = (await taskFile(project.dir, plan.data.parent_task_id)).subtasks.find((s: any) => s.task_id === design);
      assert.equal(stored.lease.agent_id, holder);
    } finally {
      await closeAll(racers);
      await project.remove();
    }
  });
});

describe('idempotent retries across server processes', () => {
  test('plan_task: a retry from another process returns the first task and creates nothing; other arguments: IDEMPOTENCY_CONFLICT', async () => {
    const project = await tempProject();
    const [a, b] = await servers(project.dir, 2);
    try {
      const key = 'plan-7f3c';
      const first = await a!.call('orchestrator_plan_task', { ...samplePlan, idempotency_key: key });
      assert.equal(first.isError, false, first.text);
      const retry = await b!.call('orchestrator_plan_task', { ...samplePlan, idempotency_key: key });
      assert.equal(retry.isError, false, retry.text);
      assert.equal(retry.data.replayed, true);
      const { replayed: _r, ...again } = retry.data;
      assert.deepEqual(again, first.data);
      assert.deepEqual(await readdir(path.join(project.dir, '.task_orchestrator/tasks/active')), [`${first.data.parent_task_id}.json`]);

      const conflict = await b!.call('orchestrator_plan_task', { ...samplePlan, description: 'Something else', idempotency_key: key });
      assert.equal(conflict.error?.code, 'IDEMPOTENCY_CONFLICT', conflict.text);
      assert.equal(conflict.error?.data?.parent_task_id, first.data.parent_task_id);
      assert.equal((await readdir(path.join(project.dir, '.task_orchestrator/tasks/active'))).length, 1);
    } finally {
      await closeAll([a!, b!]);
      await project.remove();
    }
  });

  test('complete_subtask: a retry from another process returns the first reply and changes nothing; other arguments: IDEMPOTENCY_CONFLICT', async () => {
    const project = await tempProject();
    const [a, b] = await servers(project.dir, 2);
    try {
      const plan = await a!.call('orchestrator_plan_task', samplePlan);
      const design = plan.data.execution_order[0] as string;
      await a!.call('orchestrator_execute_subtask', { task_id: design });
      const args = { task_id: design, results: 'Design agreed', idempotency_key: 'done-design-1' };
      const first = await a!.call('orchestrator_complete_subtask', args);
      assert.equal(first.isError, false, first.text);
      const before = await taskFile(project.dir, plan.data.parent_task_id);

      // Another server (another session, which holds no lease) retries: the stored reply, no write.
      const retry = await b!.call('orchestrator_complete_subtask', args);
      assert.equal(retry.isError, false, retry.text);
      assert.equal(retry.data.replayed, true);
      const { replayed: _r, ...again } = retry.data;
      assert.deepEqual(again, first.data);
      assert.equal((await taskFile(project.dir, plan.data.parent_task_id)).revision, before.revision, 'nothing was written');

      const conflict = await b!.call('orchestrator_complete_subtask', { ...args, results: 'Another design' });
      assert.equal(conflict.error?.code, 'IDEMPOTENCY_CONFLICT', conflict.text);
      assert.deepEqual(await taskFile(project.dir, plan.data.parent_task_id), before);
    } finally {
      await closeAll([a!, b!]);
      await project.remove();
    }
  });
});

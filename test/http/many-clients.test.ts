import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { samplePlan } from '../mcp/harness.js';
import { connectHttp, serverPerSuite } from './harness.js';

const CLIENTS = 50;

const suite = serverPerSuite();

/** One client's whole job: its own session, its own task, every subtask executed and completed. */
async function oneClient(n: number): Promise<string> {
  const mcp = await connectHttp(suite.server.url, suite.server.token, `client-${n}`);
  try {
    const plan = await mcp.call('orchestrator_plan_task', { ...samplePlan, description: `Task of client ${n}` });
    assert.equal(plan.isError, false, plan.text);
    for (const taskId of plan.data.execution_order as string[]) {
      const started = await mcp.call('orchestrator_execute_subtask', { task_id: taskId });
      assert.equal(started.isError, false, `client ${n} ${taskId}: ${started.text}`);
      const done = await mcp.call('orchestrator_complete_subtask', { task_id: taskId, results: `client ${n} did ${taskId}` });
      assert.equal(done.isError, false, `client ${n} ${taskId}: ${done.text}`);
    }
    return plan.data.parent_task_id as string;
  } finally {
    await mcp.transport.terminateSession();
    await mcp.close();
  }
}

test(`${CLIENTS} clients at once, each planning, executing and completing: every change acknowledged is there, none lost`, async () => {
  const started = Date.now();
  const parents = await Promise.all(Array.from({ length: CLIENTS }, (_, n) => oneClient(n)));
  const seconds = (Date.now() - started) / 1000;
  assert.equal(new Set(parents).size, CLIENTS, 'one task per client');
  const subtasks = CLIENTS * samplePlan.subtasks.length;
  // 1 plan + 2 calls per subtask per client, after connecting.
  process.stderr.write(`# ${CLIENTS} clients: ${CLIENTS * (1 + 2 * samplePlan.subtasks.length)} tool calls in ${seconds.toFixed(1)} s\n`);

  const checker = await connectHttp(suite.server.url, suite.server.token, 'checker');
  const status = await checker.call('orchestrator_get_status', { include_completed: true, limit: 500 });
  await checker.close();
  assert.equal(status.data.counts.total, subtasks);
  assert.equal(status.data.counts.completed, subtasks, 'every completion is counted');
  assert.equal(status.data.parents.archived, CLIENTS, 'every finished task was archived');

  const archive = path.join(suite.project.dir, '.task_orchestrator', 'tasks', 'archive');
  const files = (await readdir(archive)).filter((n) => n.endsWith('.json'));
  assert.deepEqual(files.sort(), parents.map((p) => `${p}.json`).sort(), 'on disk: one file per task');
  for (const [n, parent] of parents.entries()) {
    const stored = JSON.parse(await readFile(path.join(archive, `${parent}.json`), 'utf8'));
    assert.equal(stored.description, `Task of client ${n}`);
    for (const subtask of stored.subtasks) {
      assert.equal(subtask.status, 'completed');
      assert.equal(subtask.results, `client ${n} did ${subtask.task_id}`, 'each client\'s own results, in its own task');
    }
  }
  assert.deepEqual(await readdir(path.join(suite.project.dir, '.task_orchestrator', 'tasks', 'active')).then((n) => n.filter((f) => f.endsWith('.json'))), []);
});

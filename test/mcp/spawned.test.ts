import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CLI, connectSpawned, samplePlan, tempProject } from './harness.js';

test('a spawned "task-orchestrator serve": orchestrate, stop, start again, and be offered to resume where we were', async () => {
  const project = await tempProject();
  try {
    const first = await connectSpawned(project.dir);
    const plan = await first.call('orchestrator_plan_task', samplePlan);
    assert.equal(plan.isError, false, plan.text);
    const [design, second] = plan.data.execution_order as string[];
    await first.call('orchestrator_execute_subtask', { task_id: design });
    await first.call('orchestrator_complete_subtask', { task_id: design, results: 'Design agreed' });
    await first.call('orchestrator_execute_subtask', { task_id: second });
    process.kill(first.pid!, 'SIGKILL'); // a crash, not a polite shutdown
    await first.close().catch(() => undefined);

    const again = await connectSpawned(project.dir);
    try {
      const session = await again.call('orchestrator_initialize_session');
      assert.equal(session.isError, false, session.text);
      const task = session.data.active_tasks.find((t: any) => t.parent_task_id === plan.data.parent_task_id);
      assert.ok(task, 'the unfinished task is offered');
      assert.equal(task.progress.completed_subtasks, 1);
      assert.deepEqual(task.interrupted_subtasks.map((s: any) => s.task_id), [second]);
      assert.match(session.text, /interrupted/);

      const resumed = await again.call('orchestrator_execute_subtask', { task_id: second });
      assert.equal(resumed.isError, false, resumed.text);
      assert.match(resumed.text, /Design agreed/);
      const status = await again.call('orchestrator_get_status');
      assert.equal(status.data.interrupted_subtasks.length, 0, 'executing it again claims it for this process');
    } finally {
      await again.close();
    }
    const log = await readFile(path.join(project.dir, '.task_orchestrator/logs/orchestrator.log'), 'utf8');
    assert.match(log, /Serving tasks from/);
  } finally {
    await project.remove();
  }
});

test('stdout carries only JSON-RPC messages; logs go to stderr', async () => {
  const project = await tempProject();
  try {
    const child = spawn(process.execPath, [CLI, 'serve'], { cwd: project.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const send = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`);
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'orchestrator_get_status', arguments: {} } });
    send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'orchestrator_execute_subtask', arguments: { task_id: 'nope' } } });
    const deadline = Date.now() + 10_000;
    while (!stdout.includes('"id":3') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.stdin.end();
    await new Promise((resolve) => child.on('exit', resolve));
    const lines = stdout.split('\n').filter(Boolean);
    assert.ok(lines.length >= 3, `three replies expected, got: ${stdout}`);
    for (const line of lines) assert.equal(JSON.parse(line).jsonrpc, '2.0', `not a protocol message: ${line}`);
    assert.match(stderr, /serving on stdio/);
    assert.match(stderr, /Refused: TASK_NOT_FOUND/);
  } finally {
    await project.remove();
  }
});

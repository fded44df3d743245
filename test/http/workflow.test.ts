import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1HttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { samplePlan, TOOL_NAMES } from '../mcp/harness.js';
import { connectHttp, serverPerSuite } from './harness.js';

const suite = serverPerSuite();

test('over HTTP the whole workflow runs: initialize, plan, execute and complete every subtask, synthesize', async () => {
  const mcp = await connectHttp(suite.server.url, suite.server.token);
  try {
    const tools = await mcp.client.listTools();
    assert.deepEqual(tools.tools.map((t) => t.name).sort(), TOOL_NAMES, 'the same tools as over stdio');

    const elsewhere = path.join(suite.project.dir, 'elsewhere');
    await mkdir(elsewhere);
    const session = await mcp.call('orchestrator_initialize_session', { working_directory: elsewhere });
    assert.equal(session.isError, false, session.text);
    assert.equal(session.data.base_dir, suite.project.dir, 'the folder the server runs in; working_directory cannot move a shared server');

    const plan = await mcp.call('orchestrator_plan_task', samplePlan);
    assert.equal(plan.isError, false, plan.text);
    for (const taskId of plan.data.execution_order as string[]) {
      const started = await mcp.call('orchestrator_execute_subtask', { task_id: taskId });
      assert.equal(started.isError, false, started.text);
      assert.match(started.data.lease.agent_id, /^http-[0-9a-f]{12}$/, 'the session is the agent');
      const done = await mcp.call('orchestrator_complete_subtask', { task_id: taskId, results: `Done: ${taskId}` });
      assert.equal(done.isError, false, done.text);
    }
    const synthesis = await mcp.call('orchestrator_synthesize_results', { parent_task_id: plan.data.parent_task_id });
    assert.equal(synthesis.isError, false, synthesis.text);
    for (const taskId of plan.data.execution_order as string[]) assert.ok(synthesis.text.includes(`Done: ${taskId}`), `the synthesis has the results of ${taskId}`);

    const file = path.join(suite.project.dir, '.task_orchestrator', 'tasks', 'archive', `${plan.data.parent_task_id}.json`);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    assert.ok(stored.subtasks.every((s: { status: string }) => s.status === 'completed'), 'every completion is on disk');
  } finally {
    await mcp.close();
  }
  assert.equal(suite.server.stdout(), '', 'nothing on stdout');
});

test('a client on SDK v1 (what most MCP clients ship) connects over HTTP with the token and gets the same tools and refusals', async () => {
  const transport = new V1HttpTransport(suite.server.url, { requestInit: { headers: { Authorization: `Bearer ${suite.server.token}` } } });
  const client = new V1Client({ name: 'v1', version: '1.0.0' });
  await client.connect(transport);
  try {
    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((t) => t.name).sort(), TOOL_NAMES);
    const status = await client.callTool({ name: 'orchestrator_get_status', arguments: {} });
    assert.equal(status.isError, undefined);
    const refused = await client.callTool({ name: 'orchestrator_execute_subtask', arguments: { task_id: 'task_0000000000.1' } });
    assert.equal(refused.isError, true);
    assert.match((refused.content as { text: string }[])[0]!.text, /^TASK_NOT_FOUND: /);
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});

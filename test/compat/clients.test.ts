import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Stream } from 'node:stream';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1StdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioTransport } from '@modelcontextprotocol/client/stdio';
import { TOOL_NAMES } from '../mcp/harness.js';

/**
 * One scenario, driven through the built server (`task-orchestrator serve` over stdio) by each client that hosts
 * are built on: the SDK v1 client (most hosts today) and the v2 client this project ships with. Both clients
 * check structuredContent against the tool's outputSchema once they have listed the tools, so listTools runs first.
 */

const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');
/** The documented place of a refusal's machine-readable code (README, "The tools"). */
const ERROR_META_KEY = 'task-orchestrator/error';

interface Reply {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

interface Session {
  listToolNames(): Promise<string[]>;
  call(name: string, args: Record<string, unknown>): Promise<Reply>;
  stderr(): string;
  /** Closes the client (which ends the server) and kills the server if it is still running 3 s later. */
  close(): Promise<void>;
}

/** What differs between the two clients: only how to build them. Everything else is shared. */
interface ClientAdapter {
  name: string;
  connect(params: { command: string; args: string[]; cwd: string; env: Record<string, string> }): Promise<{
    listTools(): Promise<{ tools: { name: string }[] }>;
    callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
    close(): Promise<void>;
    pid: number | null;
    stderr: Stream | null;
  }>;
}

const adapters: ClientAdapter[] = [
  {
    name: '@modelcontextprotocol/sdk 1.32.2 (v1) Client + StdioClientTransport',
    async connect(params) {
      const transport = new V1StdioTransport({ ...params, stderr: 'pipe' });
      const client = new V1Client({ name: 'compat-v1', version: '1.0.0' });
      await client.connect(transport);
      return { listTools: () => client.listTools(), callTool: (p) => client.callTool(p), close: () => client.close(), pid: transport.pid, stderr: transport.stderr };
    },
  },
  {
    name: '@modelcontextprotocol/client 2.4.0 (v2) Client + StdioClientTransport',
    async connect(params) {
      const transport = new V2StdioTransport({ ...params, stderr: 'pipe' });
      const client = new V2Client({ name: 'compat-v2', version: '1.0.0' });
      await client.connect(transport);
      return { listTools: () => client.listTools(), callTool: (p) => client.callTool(p), close: () => client.close(), pid: transport.pid, stderr: transport.stderr };
    },
  },
];

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function startSession(adapter: ClientAdapter, baseDir: string): Promise<Session> {
  const connection = await adapter.connect({ command: process.execPath, args: [CLI, 'serve'], cwd: baseDir, env: { PATH: process.env.PATH ?? '', MCP_TASK_ORCHESTRATOR_BASE_DIR: baseDir } });
  let stderr = '';
  connection.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const pid = connection.pid;
  return {
    listToolNames: async () => (await connection.listTools()).tools.map((t) => t.name).sort(),
    call: async (name, args) => (await connection.callTool({ name, arguments: args })) as Reply,
    stderr: () => stderr,
    async close() {
      await connection.close().catch(() => undefined);
      if (pid === null) return;
      for (let waited = 0; isAlive(pid) && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}

/** Ids the scenario learns as it goes (the plan's handles become server-assigned ids). */
interface State {
  parent: string;
  ids: Record<string, string>;
  order: string[];
}

type Step = { name: string; tool: string; args: (s: State) => Record<string, unknown> } & (
  | { accept: (data: Record<string, any>, s: State) => void }
  | { refuse: string; mentions?: RegExp }
);

const plan = {
  description: 'Add CSV export to the reports page',
  subtasks: [
    { task_id: 'design', title: 'Design the export', description: 'Decide format and API', specialist_type: 'architect' },
    { task_id: 'build', title: 'Implement the export', description: 'Write the code', specialist_type: 'implementer', dependencies: ['design'] },
    { task_id: 'docs', title: 'Document the export', description: 'Update the docs', specialist_type: 'documenter', dependencies: ['build'] },
  ],
};

const execute = (handle: string): Step => ({ name: `execute_subtask ${handle}`, tool: 'orchestrator_execute_subtask', args: (s) => ({ task_id: s.ids[handle] }), accept: (d) => assert.equal(d.status, 'active') });
const complete = (handle: string): Step => ({
  name: `complete_subtask ${handle}`,
  tool: 'orchestrator_complete_subtask',
  args: (s) => ({ task_id: s.ids[handle], results: `${handle} done` }),
  accept: (d) => assert.equal(d.status, 'completed'),
});

/** The happy path of every tool, with at least one refusal per tool woven in where it makes sense. */
const scenario: Step[] = [
  { name: 'initialize_session', tool: 'orchestrator_initialize_session', args: () => ({}), accept: (d) => assert.equal(d.session_initialized, true) },
  { name: 'initialize_session, working_directory of the wrong type (SDK input schema)', tool: 'orchestrator_initialize_session', args: () => ({ working_directory: 42 }), refuse: 'INVALID_INPUT', mentions: /working_directory/ },
  { name: 'plan_task, unknown role', tool: 'orchestrator_plan_task', args: () => ({ description: 'x', subtasks: [{ title: 'a', specialist_type: 'wizard' }] }), refuse: 'UNKNOWN_ROLE', mentions: /wizard/ },
  {
    name: 'plan_task',
    tool: 'orchestrator_plan_task',
    args: () => plan,
    accept: (d, s) => {
      s.parent = d.parent_task_id;
      s.ids = Object.fromEntries(d.subtasks.map((t: any) => [t.handle, t.task_id]));
      s.order = d.execution_order;
      assert.equal(s.order.length, 3);
    },
  },
  { name: 'execute_subtask, dependency unfinished', tool: 'orchestrator_execute_subtask', args: (s) => ({ task_id: s.ids.build }), refuse: 'UNMET_DEPENDENCIES', mentions: /Design the export/ },
  { name: 'execute_subtask, task_id of the wrong type (SDK input schema)', tool: 'orchestrator_execute_subtask', args: () => ({ task_id: 42 }), refuse: 'INVALID_INPUT', mentions: /task_id/ },
  execute('design'),
  complete('design'),
  { name: 'complete_subtask, unknown id', tool: 'orchestrator_complete_subtask', args: (s) => ({ task_id: `${s.parent}.9`, results: 'x' }), refuse: 'TASK_NOT_FOUND' },
  { name: 'complete_subtask, unknown next_action (SDK input schema)', tool: 'orchestrator_complete_subtask', args: (s) => ({ task_id: s.ids.build, results: 'x', next_action: 'later' }), refuse: 'INVALID_INPUT', mentions: /next_action/ },
  { name: 'synthesize_results, unknown parent', tool: 'orchestrator_synthesize_results', args: () => ({ parent_task_id: 'task_0123456789' }), refuse: 'TASK_NOT_FOUND' },
  execute('build'),
  complete('build'),
  execute('docs'),
  complete('docs'),
  {
    name: 'synthesize_results',
    tool: 'orchestrator_synthesize_results',
    args: (s) => ({ parent_task_id: s.parent }),
    accept: (d) => {
      assert.equal(d.complete, true);
      assert.match(d.report, /design done/);
    },
  },
  {
    name: 'get_status',
    tool: 'orchestrator_get_status',
    args: (s) => ({ parent_task_id: s.parent, include_completed: true }),
    accept: (d) => assert.equal(d.counts.completed, 3),
  },
  { name: 'get_status, limit 0', tool: 'orchestrator_get_status', args: () => ({ limit: 0 }), refuse: 'INVALID_INPUT', mentions: /limit/ },
  { name: 'get_status, limit 501', tool: 'orchestrator_get_status', args: () => ({ limit: 501 }), refuse: 'INVALID_INPUT', mentions: /limit/ },
  { name: 'get_status, limit of the wrong type (SDK input schema)', tool: 'orchestrator_get_status', args: () => ({ limit: 'ten' }), refuse: 'INVALID_INPUT', mentions: /limit/ },
  {
    name: 'get_history',
    tool: 'orchestrator_get_history',
    args: (s) => ({ task_id: s.parent }),
    accept: (d, s) => {
      assert.equal(d.events.length, 8, 'planned, 3 starts, 3 completions, archived');
      assert.deepEqual([d.events[0].to, d.events.at(-1).to], ['active', 'archived']);
      assert.equal(d.events.at(-1).task_id, s.parent);
    },
  },
  { name: 'get_history, unknown task', tool: 'orchestrator_get_history', args: () => ({ task_id: 'task_0123456789' }), refuse: 'TASK_NOT_FOUND' },
  { name: 'maintenance report', tool: 'orchestrator_maintenance', args: () => ({ action: 'report' }), accept: (d) => assert.equal(d.counts.problems, 0) },
  { name: 'maintenance, an action that does not exist (SDK input schema)', tool: 'orchestrator_maintenance', args: () => ({ action: 'delete' }), refuse: 'INVALID_INPUT', mentions: /action/ },
];

const textOf = (reply: Reply): string => reply.content.map((c) => c.text ?? '').join('\n');

for (const adapter of adapters) {
  describe(`compatibility: ${adapter.name}`, () => {
    let baseDir: string;
    let session: Session;
    const state: State = { parent: '', ids: {}, order: [] };
    before(async () => {
      baseDir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-compat-'));
      session = await startSession(adapter, baseDir);
    });
    after(async () => {
      await session?.close();
      await rm(baseDir, { recursive: true, force: true });
    });

    test('listTools', async () => {
      assert.deepEqual(await session.listToolNames(), TOOL_NAMES);
    });

    for (const step of scenario) {
      test(step.name, async () => {
        let reply: Reply;
        try {
          reply = await session.call(step.tool, step.args(state));
        } catch (error) {
          assert.fail(`the client rejected the reply of ${step.tool}: ${error instanceof Error ? error.message : String(error)}\n--- server stderr ---\n${session.stderr().slice(-2000)}`);
        }
        const text = textOf(reply);
        if ('refuse' in step) {
          assert.equal(reply.isError, true, `${step.tool} should refuse: ${text}`);
          assert.ok(text.startsWith(`${step.refuse}: `), `the text starts with ${step.refuse}: ${text}`);
          if (step.mentions) assert.match(text, step.mentions);
          const error = reply._meta?.[ERROR_META_KEY] as { code?: string; message?: string } | undefined;
          assert.equal(error?.code, step.refuse, `_meta["${ERROR_META_KEY}"].code`);
          assert.ok(error?.message && text.includes(error.message), 'the _meta message is the one in the text');
          assert.equal(reply.structuredContent, undefined, 'no structuredContent on a refusal');
        } else {
          assert.notEqual(reply.isError, true, text);
          assert.ok(reply.structuredContent, `${step.tool} returns structured content`);
          step.accept(reply.structuredContent as Record<string, any>, state);
        }
      });
    }
  });
}

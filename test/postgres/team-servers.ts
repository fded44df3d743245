/**
 * Real team servers for the process tests: `node dist/cli/main.js serve --database-url URL`, each a
 * child process with its own temp project folder (as on its own machine), driven over stdio by the
 * official MCP client. Every one started is tracked, so a test's finally can end them all by pid.
 */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CLI, tempProject, wrap, type Connection, type ToolReply } from '../mcp/harness.js';
import { parseTaskFile } from '../../src/domain/task-file.js';
import type { ParentTask } from '../../src/domain/model.js';
import type { TestDatabase } from './db.js';

export interface TeamServer extends Connection {
  pid: number;
  dir: string;
  stderr(): string;
  /** SIGKILL (a crash, no shutdown), then the client and the folder are let go. */
  kill(): Promise<void>;
}

const live = new Set<TeamServer>();

export async function spawnTeamServer(url: string): Promise<TeamServer> {
  const project = await tempProject();
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--database-url', url], cwd: project.dir, env: { PATH: process.env.PATH ?? '' }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const client = new Client({ name: 'team-test', version: '1.0.0' });
  let ended = false;
  const end = async (signal: NodeJS.Signals | null) => {
    if (ended) return;
    ended = true;
    live.delete(server);
    if (signal && pid > 0) killPid(pid, signal);
    await client.close().catch(() => undefined);
    if (pid > 0) await waitGone(pid);
    await project.remove();
  };
  let pid = -1;
  const server: TeamServer = {
    ...wrap(client, async () => undefined),
    pid,
    dir: project.dir,
    stderr: () => stderr,
    kill: () => end('SIGKILL'),
    close: () => end(null),
  };
  live.add(server);
  try {
    await client.connect(transport);
  } catch (error) {
    await end('SIGKILL');
    throw error;
  }
  pid = transport.pid ?? -1;
  server.pid = pid;
  return server;
}

/** Ends every team server still running, by pid (for finally blocks: a failed test leaves none behind). */
export async function killAllTeamServers(): Promise<void> {
  await Promise.all([...live].map((s) => s.kill()));
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  killPid(pid, 'SIGKILL');
}

export function ok(reply: ToolReply, what = ''): ToolReply {
  assert.equal(reply.isError, false, `${what} ${reply.text}`);
  return reply;
}

/** A plan of `count` independent subtasks (any server may take any of them, in any order). */
export function independentPlan(description: string, count: number): Record<string, unknown> {
  const subtasks = Array.from({ length: count }, (_, i) => ({ task_id: `s${i}`, title: `Part ${i}`, description: `Part ${i} of ${description}`, specialist_type: 'implementer' }));
  return { description, subtasks };
}

/**
 * Every parent row, parsed with the project's own parser: a row that does not parse fails the test,
 * as does a revision column that disagrees with the body's.
 */
export async function storedParents(db: TestDatabase): Promise<Map<string, ParentTask>> {
  const rows = await db.query<{ parent_task_id: string; revision: string; body: string }>('SELECT parent_task_id, revision, body FROM task_orchestrator.parents');
  const parents = new Map<string, ParentTask>();
  for (const row of rows) {
    const parsed = parseTaskFile(row.body);
    if (!parsed.ok) assert.fail(`the row of ${row.parent_task_id} does not parse: ${parsed.code}: ${parsed.message}`);
    assert.equal(parsed.value.parent_task_id, row.parent_task_id);
    assert.equal(Number(row.revision), parsed.value.revision ?? 0, `${row.parent_task_id}: revision column ${row.revision}, body ${parsed.value.revision}`);
    parents.set(row.parent_task_id, parsed.value);
  }
  return parents;
}

/** `task-orchestrator doctor --json --database-url URL`, run in a folder of its own: its findings and exit code. */
export async function doctor(url: string): Promise<{ code: number | null; healthy: boolean; problems: unknown[]; output: string }> {
  const project = await tempProject();
  const run = spawnSync(process.execPath, [CLI, 'doctor', '--json', '--database-url', url], { cwd: project.dir, encoding: 'utf8', timeout: 60_000 });
  await project.remove();
  const output = `${run.stdout}\n${run.stderr}`;
  let report: { healthy?: boolean; findings?: { severity: string }[] } = {};
  try {
    report = JSON.parse(run.stdout);
  } catch {
    // reported through `output`
  }
  return { code: run.status, healthy: report.healthy === true, problems: (report.findings ?? []).filter((f) => f.severity === 'problem'), output };
}

import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { readSettings } from '../../src/config.js';
import { isSpareLockFile } from '../../src/store/file/lock.js';
import { ProjectHost } from '../../src/mcp/project-host.js';
import { createServer } from '../../src/mcp/server.js';
import { ERROR_META_KEY, type ErrorMeta } from '../../src/mcp/tool-result.js';
import { silentLogger } from '../../src/logging/logger.js';

export const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface ToolReply {
  isError: boolean;
  text: string;
  data: any;
  /** A refusal's machine-readable code, message and data (from _meta). */
  error?: ErrorMeta;
}

export interface Connection {
  client: Client;
  call(name: string, args?: Record<string, unknown>): Promise<ToolReply>;
  close(): Promise<void>;
}

export async function tempProject(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-mcp-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A connected official client as the tests use it: tool calls with their text, structured content and refusal code. */
export function wrap(client: Client, onClose: () => Promise<void>): Connection {
  return {
    client,
    async call(name, args = {}) {
      const reply = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: unknown; _meta?: Record<string, unknown> };
      const error = reply._meta?.[ERROR_META_KEY] as ErrorMeta | undefined;
      return { isError: reply.isError === true, text: reply.content.map((c) => c.text ?? '').join('\n'), data: reply.structuredContent, ...(error ? { error } : {}) };
    },
    async close() {
      await client.close();
      await onClose();
    },
  };
}

/** The real server, in this process, through a linked in-memory transport pair and the official client. */
export async function connectInProcess(baseDir: string | null, env: NodeJS.ProcessEnv = {}): Promise<Connection> {
  const settings = readSettings(env);
  const host = new ProjectHost(baseDir, settings, silentLogger);
  const server = createServer(host, silentLogger);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
  return wrap(client, async () => {
    await server.close();
    await host.close();
  });
}

/** `task-orchestrator serve` as a real child process over stdio; stderr is collected for assertions. */
export async function connectSpawned(cwd: string, env: Record<string, string> = {}): Promise<Connection & { stderr: () => string; pid: number | null }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve'], cwd, env: { PATH: process.env.PATH ?? '', ...env }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(transport);
  return Object.assign(wrap(client, async () => undefined), { stderr: () => stderr, pid: transport.pid });
}

export const samplePlan = {
  description: 'Add CSV export to the reports page',
  context: 'TypeScript monorepo; reports live in packages/reports',
  complexity_level: 'moderate',
  subtasks: [
    { task_id: 'design', title: 'Design the export', description: 'Decide format and API', specialist_type: 'architect', estimated_effort: '30 minutes' },
    { task_id: 'build', title: 'Implement the export', description: 'Write the code', specialist_type: 'implementer', dependencies: ['design'] },
    { task_id: 'test', title: 'Test the export', description: 'Write tests', specialist_type: 'tester', dependencies: ['build'] },
    { task_id: 'docs', title: 'Document the export', description: 'Update the docs', specialist_type: 'documenter', dependencies: ['design'] },
  ],
};

/** Every file under a folder (logs and spare lock files aside) with its content, to prove that a refused call changed nothing. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      // Logs, and the spare lock files of the servers running now (every lock taken, refused calls' too, reuses them), are not task data.
      else if (!full.includes(`${path.sep}logs${path.sep}`) && !isSpareLockFile(entry.name)) files.set(path.relative(dir, full), await readFile(full, 'utf8'));
    }
  };
  await walk(dir);
  return files;
}

/**
 * A read-only view of `source`: a bind mount remounted read-only. Permission bits would not do: root
 * ignores them, and these tests may run as root. Returns why it cannot be made here (not root, no
 * mount), for the test to skip with that reason.
 */
export async function readOnlyView(source: string): Promise<{ dir: string; remove(): Promise<void> } | { unavailable: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-ro-'));
  const run = (args: string[]) => spawnSync('mount', args, { encoding: 'utf8' });
  const bind = run(['--bind', source, dir]);
  if (bind.status !== 0) {
    await rmdir(dir);
    return { unavailable: `cannot bind-mount a read-only view (needs root and mount): ${(bind.stderr || bind.error?.message || '').trim()}` };
  }
  const remove = async () => {
    // Only an empty mount point is removed: never delete through a mount that is still in place.
    if (spawnSync('umount', [dir]).status === 0) await rmdir(dir);
  };
  const readOnly = run(['-o', 'remount,bind,ro', dir]);
  if (readOnly.status !== 0) {
    await remove();
    return { unavailable: `cannot remount the view read-only: ${readOnly.stderr.trim()}` };
  }
  return { dir, remove };
}

/**
 * For a describe block: a fresh project folder and an in-process connection to it, made before its
 * tests and removed after them. Read `mcp` and `dir` inside the tests (they exist once `before` ran).
 */
export function inProcessProject(): { readonly mcp: Connection; readonly dir: string } {
  let project: Awaited<ReturnType<typeof tempProject>> | undefined;
  let connection: Connection | undefined;
  before(async () => {
    project = await tempProject();
    connection = await connectInProcess(project.dir);
  });
  after(async () => {
    await connection?.close();
    await project?.remove();
  });
  return {
    get mcp() {
      return connection!;
    },
    get dir() {
      return project!.dir;
    },
  };
}

/** Every tool the server lists, sorted by name: the one list the tests compare tools/list with. */
export const TOOL_NAMES = [
  'orchestrator_complete_subtask',
  'orchestrator_execute_subtask',
  'orchestrator_get_history',
  'orchestrator_get_status',
  'orchestrator_initialize_session',
  'orchestrator_maintenance',
  'orchestrator_plan_task',
  'orchestrator_synthesize_results',
];

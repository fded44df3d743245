/**
 * MCP over HTTP (issue 12): `serve --http` driven by the official client's Streamable HTTP transport,
 * with the bearer token, as a team's clients use it.
 *
 * Latency: one client, rounds of plan_task + execute/complete of 4 of its 5 subtasks (the parent stays
 * active, as in the stdio per-tool phase). Every call is followed by a ping over the same session (the
 * floor: the round trip of the most trivial MCP request over HTTP, through the same server, token and
 * session checks), and every write by one synchronous durable replacement of a task-sized file beside
 * the project, so that the floors meet the same machine load as the calls.
 *
 * Many clients: `httpClients` clients, each its own session (its own agent), connect, then at once each
 * plans `httpPlansPerClient` tasks and executes and completes every subtask of each. Throughput is tool
 * calls per second from the start signal to the last reply; p95 is over every call. Afterwards the
 * server is stopped, a new one started on the same store, and every acknowledged plan and completion
 * looked up through it: missing ones are lost. On the file store, and on PostgreSQL when `serve
 * --database-url` exists in this build and a database server is reachable (a fresh database is created
 * and dropped); otherwise the reason is printed and that part skipped.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { BenchConfig } from './config.js';
import { durableReplaceSync, timeDurableReplace } from './durable.js';
import { makeParent, rng } from './generate.js';
import { CLI, timedCall, type Reply } from './mcp.js';
import { PLAN } from './per-tool.js';
import { serializeTaskFile } from '../src/domain/task-file.js';

export interface HttpLatencyResult {
  /** Round trips of ping over HTTP, one after every call. */
  floor: number[];
  /** Synchronous durable replacements of a task-sized file, one after every write. */
  durable: number[];
  execute: number[];
  complete: number[];
}

export interface ManyClientsResult {
  store: string;
  clients: number;
  calls: number;
  seconds: number;
  throughput: number;
  /** Every tool call, and complete_subtask alone, in ms. */
  latencies: number[];
  complete: number[];
  errors: number;
  errorSamples: string[];
  /** Acknowledged plans and completions checked through a new server afterwards, and how many were missing. */
  checked: number;
  lost: number;
}

export interface HttpResult {
  latency: HttpLatencyResult;
  manyClients: ManyClientsResult[];
  /** Why the PostgreSQL run did not happen, or null when it did. */
  postgresSkipped: string | null;
}

/** One token for every server the bench starts over HTTP, given in their environment (no token file in the projects). */
const HTTP_TOKEN = randomBytes(32).toString('base64url');

const RESULTS = 'Done over HTTP: the change is in, its tests pass, and the reviewer signed it off.';

export async function runHttp(config: BenchConfig, workDir: string, progress: (msg: string) => void): Promise<HttpResult> {
  progress(`http: latency, ${config.httpRounds} rounds`);
  const latency = await runLatency(config, workDir);
  progress(`http: ${config.httpClients} clients on the file store`);
  const fileProject = path.join(workDir, 'http-clients');
  await mkdir(fileProject, { recursive: true });
  const manyClients = [await runManyClients(config, 'file store', () => startHttpServer(fileProject))];
  const postgres = await postgresDatabase();
  if ('skipped' in postgres) {
    progress(`http: PostgreSQL skipped: ${postgres.skipped}`);
    return { latency, manyClients, postgresSkipped: postgres.skipped };
  }
  try {
    progress(`http: ${config.httpClients} clients on PostgreSQL (database ${postgres.name})`);
    const pgProject = path.join(workDir, 'http-clients-postgres');
    await mkdir(pgProject, { recursive: true });
    manyClients.push(await runManyClients(config, 'PostgreSQL', () => startHttpServer(pgProject, ['--database-url', postgres.url])));
  } finally {
    await postgres.drop();
  }
  return { latency, manyClients, postgresSkipped: null };
}

async function runLatency(config: BenchConfig, workDir: string): Promise<HttpLatencyResult> {
  const project = path.join(workDir, 'http-latency');
  await mkdir(project, { recursive: true });
  const durableTarget = path.join(workDir, 'http-floor', 'task_00000f2000.json');
  const durableData = serializeTaskFile(makeParent(rng(11), 'active', 'task_00000f2000', { subtaskCount: 5 }));
  await mkdir(path.dirname(durableTarget), { recursive: true });
  durableReplaceSync(durableTarget, durableData);
  const result: HttpLatencyResult = { floor: [], durable: [], execute: [], complete: [] };
  const server = await startHttpServer(project);
  const client = await connectClient(server.url);
  try {
    let measuring = false;
    const call = async (tool: string, args: Record<string, unknown>, into: number[] | null, writes: boolean): Promise<Reply> => {
      const reply = await callOk(client, tool, args, server);
      const ping = await client.ping();
      if (measuring) {
        into?.push(reply.ms);
        result.floor.push(ping);
        if (writes) result.durable.push(await timeDurableReplace('sync', durableTarget, durableData));
      }
      return reply;
    };
    const warmupRounds = config.smoke ? 1 : 3;
    for (let round = 0; round < warmupRounds + config.httpRounds; round++) {
      measuring = round >= warmupRounds;
      const plan = await call('orchestrator_plan_task', PLAN, null, true);
      for (const id of (plan.data.execution_order as string[]).slice(0, -1)) {
        await call('orchestrator_execute_subtask', { task_id: id }, result.execute, true);
        await call('orchestrator_complete_subtask', { task_id: id, results: RESULTS }, result.complete, true);
      }
    }
  } finally {
    await client.close();
    await server.stop();
  }
  return result;
}

interface Acknowledged {
  parentId: string;
  completed: string[];
}

async function runManyClients(config: BenchConfig, store: string, start: () => Promise<HttpServerProcess>): Promise<ManyClientsResult> {
  const server = await start();
  const latencies: number[] = [];
  const complete: number[] = [];
  const acknowledged: Acknowledged[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let seconds = Number.NaN;
  const clients: HttpClient[] = [];
  try {
    for (let i = 0; i < config.httpClients; i++) clients.push(await connectClient(server.url));
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (client, c) => {
        const timed = async (tool: string, args: Record<string, unknown>): Promise<Reply | null> => {
          try {
            const reply = await client.call(tool, args);
            latencies.push(reply.ms);
            if (tool === 'orchestrator_complete_subtask') complete.push(reply.ms);
            if (!reply.isError) return reply;
            errors++;
            if (errorSamples.length < 3) errorSamples.push(`${tool}: ${reply.text}`);
          } catch (error) {
            errors++;
            if (errorSamples.length < 3) errorSamples.push(`${tool}: ${(error as Error).message}`);
          }
          return null;
        };
        for (let p = 0; p < config.httpPlansPerClient; p++) {
          const plan = await timed('orchestrator_plan_task', { ...PLAN, description: `${PLAN.description} (client ${c}, plan ${p})` });
          if (!plan) continue;
          const ack: Acknowledged = { parentId: plan.data.parent_task_id as string, completed: [] };
          acknowledged.push(ack);
          for (const id of plan.data.execution_order as string[]) {
            if (!(await timed('orchestrator_execute_subtask', { task_id: id }))) continue;
            if (await timed('orchestrator_complete_subtask', { task_id: id, results: `${RESULTS} (client ${c})` })) ack.completed.push(id);
          }
        }
      }),
    );
    seconds = (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.stop();
  }
  const { checked, lost } = await countLost(await start(), acknowledged);
  return { store, clients: config.httpClients, calls: latencies.length, seconds, throughput: latencies.length / seconds, latencies, complete, errors, errorSamples, checked, lost };
}

/** Looks up every acknowledged plan and completion through a new server on the same store; stops that server. */
async function countLost(server: HttpServerProcess, acknowledged: Acknowledged[]): Promise<{ checked: number; lost: number }> {
  const client = await connectClient(server.url);
  let checked = 0;
  let lost = 0;
  try {
    for (const ack of acknowledged) {
      checked += 1 + ack.completed.length;
      const status = await client.call('orchestrator_get_status', { parent_task_id: ack.parentId, limit: 100 });
      if (status.isError) {
        lost += 1 + ack.completed.length; // the plan itself is gone, and every completion with it
        continue;
      }
      const statusOf = new Map((status.data.tasks as { task_id: string; status: string }[]).map((t) => [t.task_id, t.status]));
      lost += ack.completed.filter((id) => statusOf.get(id) !== 'completed').length;
    }
  } finally {
    await client.close();
    await server.stop();
  }
  return { checked, lost };
}

interface HttpServerProcess {
  url: URL;
  pid: number;
  stderrTail(): string;
  /** SIGTERM (it finishes its calls and exits within 10 s), then SIGKILL if it has not. */
  stop(): Promise<void>;
}

async function startHttpServer(project: string, extraArgs: string[] = []): Promise<HttpServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MCP_TASK_ORCHESTRATOR_')) delete env[key];
  env.MCP_TASK_ORCHESTRATOR_HTTP_TOKEN = HTTP_TOKEN;
  // --base-dir: bench/.work lies inside the installation, which a server refuses as the folder it starts in.
  const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', '--base-dir', project, ...extraArgs], { cwd: project, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!/bearer token from/.test(stderr)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve --http ${extraArgs.join(' ')} did not start (${child.exitCode !== null ? `exit ${child.exitCode}` : 'no URL within 20 s'}):\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = new URL(/serving MCP over HTTP at (\S+)/.exec(stderr)![1]!);
  return { url, pid: child.pid!, stderrTail: () => stderr.slice(-4000), stop: () => stopProcess(child, closed) };
}

async function stopProcess(child: ChildProcess, closed: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 12_000);
  await closed;
  clearTimeout(killer);
}

interface HttpClient {
  call(name: string, args?: Record<string, unknown>): Promise<Reply>;
  /** One ping round trip, in ms. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

async function connectClient(url: URL): Promise<HttpClient> {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${HTTP_TOKEN}` } } });
  const client = new Client({ name: 'task-orchestrator-bench-http', version: '1.0.0' });
  await client.connect(transport);
  return {
    call: (name, args = {}) => timedCall(client, name, args),
    async ping() {
      const t0 = performance.now();
      await client.ping();
      return performance.now() - t0;
    },
    // Ends the session on the server (DELETE), as a client that is done does.
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

async function callOk(client: HttpClient, name: string, args: Record<string, unknown>, server: HttpServerProcess): Promise<Reply> {
  const reply = await client.call(name, args);
  if (reply.isError) throw new Error(`${name} over HTTP failed: ${reply.text}\n--- server stderr (tail) ---\n${server.stderrTail()}`);
  return reply;
}

/** A fresh database for the PostgreSQL run, or why there is none. */
async function postgresDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> } | { skipped: string }> {
  const help = await promisify(execFile)(process.execPath, [CLI, 'serve', '--help']).then((r) => r.stdout, (error: Error) => error.message);
  if (!help.includes('--database-url')) return { skipped: 'this build has no "serve --database-url" (the PostgreSQL store is not in it yet)' };
  const adminUrl = process.env.MCP_TASK_ORCHESTRATOR_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let pg: PgModule;
  try {
    // Imported by name at run time: the pg package comes with the PostgreSQL store, which a build may lack.
    const name = 'pg';
    pg = ((await import(name)) as { default: PgModule }).default;
  } catch (error) {
    return { skipped: `the pg package cannot be loaded (${(error as Error).message})` };
  }
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const name = `orchestrator_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch (error) {
    const where = process.env.MCP_TASK_ORCHESTRATOR_BENCH_DATABASE_URL ? 'MCP_TASK_ORCHESTRATOR_BENCH_DATABASE_URL' : 'the local PostgreSQL (127.0.0.1:5432, user postgres)';
    return { skipped: `cannot create a database through ${where}: ${(error as Error).message}; set MCP_TASK_ORCHESTRATOR_BENCH_DATABASE_URL to a server where this user may CREATE DATABASE` };
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.href, name, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** The little of the pg package this file uses. */
interface PgModule {
  Client: new (options: { connectionString: string; connectionTimeoutMillis?: number }) => { connect(): Promise<void>; query(sql: string): Promise<unknown>; end(): Promise<void> };
}

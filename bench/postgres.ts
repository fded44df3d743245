/**
 * The PostgreSQL store (team mode) in `npm run bench`: real `serve --database-url` servers, each with a
 * project folder of its own, on a fresh database of the server test/postgres/db.ts uses
 * (TEST_DATABASE_URL, else 127.0.0.1:5432). Skipped with one printed line when none answers.
 *
 * - complete_subtask over the MCP round trip against its floor, measured in the same run and
 *   interleaved with it: the minimal server's round trip plus one bare database round trip of
 *   `BEGIN; INSERT <a task-sized row>; COMMIT` with synchronous commit on a fresh table (made with pg
 *   directly: what any durable database store pays for one change).
 * - 8 servers completing subtasks of one shared parent, and each of its own parent: throughput, and
 *   every acknowledged completion checked in the database afterwards (lost updates).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { BenchConfig, Mode } from './config.js';
import { makeParent, rng } from './generate.js';
import { callOk, CLI, cpuMsOf, spawnServer, type Server } from './mcp.js';
import { PLAN } from './per-tool.js';
import { serializeTaskFile } from '../src/domain/task-file.js';

export interface PostgresContention {
  mode: Mode;
  processes: number;
  ops: number;
  seconds: number;
  throughput: number;
  latencies: number[];
  errors: number;
  errorSamples: string[];
  lost: number;
  /** Parents whose revision grew by more than the acknowledged changes. */
  unacknowledgedWrites: number;
  /** CPU time of the server processes per operation, in ms (the database's own is not counted). */
  serverCpuPerOp: number;
}

export interface PostgresResult {
  database: string;
  complete: number[];
  floorRoundTrip: number[];
  /** `BEGIN; INSERT ...; COMMIT` in one round trip, synchronous_commit on. */
  insertCommit: number[];
  rowBytes: number;
  contention: PostgresContention[];
}

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PROCESSES = 8;

/** Null (with one line printed) when no PostgreSQL answers: the rest of the bench runs without it. */
export async function runPostgres(config: BenchConfig, workDir: string, minimalServer: string, progress: (msg: string) => void): Promise<PostgresResult | null> {
  const reason = await unreachable();
  if (reason) {
    process.stdout.write(`PostgreSQL store skipped: ${reason}\n`);
    return null;
  }
  const name = `orchestrator_bench_${process.pid}_${Date.now().toString(36)}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = urlFor(name);
  const folders = await mkdtemp(path.join(workDir, 'postgres-'));
  // Spawned once, all at once: starting servers is the slow part on a busy machine.
  progress(`postgres: starting ${PROCESSES} servers with --database-url, each in a folder of its own`);
  const servers = await Promise.all(Array.from({ length: PROCESSES }, (_, j) => spawnTeamServer(url, folders, j)));
  try {
    await warmUp(servers);
    progress('postgres: complete_subtask against its floor');
    const latency = await runLatency(config, url, servers[0]!, minimalServer);
    progress(`postgres: ${PROCESSES} servers, separate parents and one shared parent`);
    const contention = [await runContention('separate', config, url, servers, progress), await runContention('shared', config, url, servers, progress)];
    return { database: redacted(ADMIN_URL), ...latency, contention };
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    await rm(folders, { recursive: true, force: true });
  }
}

/** A team server as an MCP client starts it, in a folder of its own (as on its own machine). */
async function spawnTeamServer(url: string, folders: string, index: number): Promise<Server> {
  const dir = path.join(folders, `server-${index}`);
  await mkdir(dir, { recursive: true });
  return spawnServer({ args: [CLI, 'serve', '--database-url', url], cwd: dir, env: { PATH: process.env.PATH ?? '', MCP_TASK_ORCHESTRATOR_BASE_DIR: dir } });
}

/** Every server through the write path a few times before anything is timed (as the file store's phase does). */
async function warmUp(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(async (server, j) => {
      const plan = await callOk(server, 'orchestrator_plan_task', { description: `Warm-up ${j}`, subtasks: [0, 1, 2, 3].map((i) => ({ task_id: `w${i}`, title: `Warm-up ${i}`, description: 'd', specialist_type: 'implementer' })) });
      for (const { task_id } of (plan.data.subtasks as { task_id: string }[]).slice(0, 3)) await callOk(server, 'orchestrator_complete_subtask', { task_id, results: `warm-up by server ${j}`, force: true });
    }),
  );
}

async function runLatency(config: BenchConfig, url: string, real: Server, minimalServer: string): Promise<Omit<PostgresResult, 'database' | 'contention'>> {
  const minimal = await spawnServer({ args: [minimalServer] });
  const floor = new pg.Client({ connectionString: url });
  await floor.connect();
  // A task-sized row (a parent of 5 subtasks, as the file store's floor writes) into a fresh table.
  const row = serializeTaskFile(makeParent(rng(7), 'active', 'task_00000f1000', { subtaskCount: 5 }));
  const insertCommit = `BEGIN; INSERT INTO bench_floor (body) VALUES (${floor.escapeLiteral(row)}); COMMIT`;
  const result = { complete: [] as number[], floorRoundTrip: [] as number[], insertCommit: [] as number[], rowBytes: Buffer.byteLength(row) };
  try {
    await floor.query('SET synchronous_commit = on; CREATE TABLE bench_floor (id bigserial PRIMARY KEY, body text NOT NULL)');
    const rounds = config.smoke ? 3 : 60;
    const warmup = config.smoke ? 1 : 5;
    for (let round = 0; round < warmup + rounds; round++) {
      const measuring = round >= warmup;
      const plan = await callOk(real, 'orchestrator_plan_task', PLAN);
      const order = plan.data.execution_order as string[];
      for (const id of order.slice(0, -1)) {
        await callOk(real, 'orchestrator_execute_subtask', { task_id: id });
        const done = await callOk(real, 'orchestrator_complete_subtask', { task_id: id, results: `Done: ${id}. The change is in and its tests pass.` });
        const ping = await minimal.call('ping', {});
        const t0 = performance.now();
        await floor.query(insertCommit);
        const bare = performance.now() - t0;
        if (measuring) {
          result.complete.push(done.ms);
          result.floorRoundTrip.push(ping.ms);
          result.insertCommit.push(bare);
        }
      }
    }
  } finally {
    await floor.end();
    await minimal.close();
  }
  return result;
}

/**
 * 8 servers completing subtasks at once: on their own parents ('separate') or on one parent they all
 * share. Afterwards, from the database: each acknowledged completion's results, and each parent's
 * revision grown by exactly the acknowledged completions.
 */
async function runContention(mode: Mode, config: BenchConfig, url: string, servers: Server[], progress: (msg: string) => void): Promise<PostgresContention> {
  const perProcess = config.smoke ? 4 : 24;
  const result: PostgresContention = { mode, processes: PROCESSES, ops: 0, seconds: 0, throughput: 0, latencies: [], errors: 0, errorSamples: [], lost: 0, unacknowledgedWrites: 0, serverCpuPerOp: 0 };
  const acked: { parentId: string; taskId: string; results: string }[] = [];
  // One subtask more than completed, so the parents stay active; no dependencies between them.
  const planOf = (count: number, label: string) => ({ description: `Bench ${label}`, subtasks: Array.from({ length: count }, (_, i) => ({ task_id: `s${i}`, title: `Part ${i}`, description: 'd', specialist_type: 'implementer' })) });
  // Shared: as in the file store's phase, parents of config.sharedSubtasks completions each, all servers on one
  // parent at a time (server j takes subtasks j, j + 8, ...), then the next. Separate: one parent per server.
  const sharedParents = (PROCESSES * perProcess) / config.sharedSubtasks;
  const plans = mode === 'shared' ? Array.from({ length: sharedParents }, (_, p) => ({ server: p % PROCESSES, count: config.sharedSubtasks + 1, label: `shared ${p}` })) : servers.map((_, j) => ({ server: j, count: perProcess + 1, label: `own ${j}` }));
  const parents = (await Promise.all(plans.map((p) => callOk(servers[p.server]!, 'orchestrator_plan_task', planOf(p.count, p.label))))).map((reply) => ({ parentId: reply.data.parent_task_id as string, taskIds: (reply.data.subtasks as { task_id: string }[]).map((s) => s.task_id) }));
  const work = servers.map((_, j) =>
    mode === 'shared'
      ? parents.flatMap((p) => p.taskIds.slice(0, config.sharedSubtasks).filter((_, i) => i % PROCESSES === j).map((taskId) => ({ parentId: p.parentId, taskId })))
      : parents[j]!.taskIds.slice(0, perProcess).map((taskId) => ({ parentId: parents[j]!.parentId, taskId })),
  );
  const revisionsBefore = await revisions(url);
  await Promise.all(servers.map((s) => callOk(s, 'orchestrator_get_status', { limit: 1 }))); // every server warm
  const cpuBefore = await Promise.all(servers.map((s) => cpuMsOf(s.pid)));
  const start = performance.now();
  await Promise.all(
    servers.map(async (server, j) => {
      for (const { parentId, taskId } of work[j]!) {
        const results = `Completed by server ${j} (${mode}): ${taskId}`;
        // force: never started, as in the file store's contention phase (the write, not the lease, is measured).
        const reply = await server.call('orchestrator_complete_subtask', { task_id: taskId, results, force: true });
        result.latencies.push(reply.ms);
        if (reply.isError || reply.data?.status !== 'completed') {
          result.errors++;
          if (result.errorSamples.length < 3) result.errorSamples.push(reply.text.slice(0, 300));
        } else acked.push({ parentId, taskId, results });
      }
    }),
  );
  result.seconds = (performance.now() - start) / 1000;
  const cpuAfter = await Promise.all(servers.map((s) => cpuMsOf(s.pid)));
  result.ops = result.latencies.length;
  result.throughput = result.ops / result.seconds;
  result.serverCpuPerOp = cpuAfter.reduce((sum, v, i) => sum + (v - cpuBefore[i]!), 0) / result.ops;
  progress(`postgres contention ${mode} x${PROCESSES}: ${result.throughput.toFixed(0)} ops/s, server CPU ${result.serverCpuPerOp.toFixed(1)} ms/op${result.errors ? `, ${result.errors} errors` : ''}`);
  const stored = await bodies(url);
  for (const op of acked) {
    const subtask = stored.get(op.parentId)?.subtasks.find((s: { task_id: string }) => s.task_id === op.taskId);
    if (subtask?.status !== 'completed' || subtask.results !== op.results) result.lost++;
  }
  for (const parentId of new Set(acked.map((a) => a.parentId))) {
    const grew = (stored.get(parentId)?.revision ?? 0) - (revisionsBefore.get(parentId) ?? 0);
    const count = acked.filter((a) => a.parentId === parentId).length;
    if (grew < count) result.lost = Math.max(result.lost, count - grew);
    if (grew > count) result.unacknowledgedWrites++;
  }
  return result;
}

async function revisions(url: string): Promise<Map<string, number>> {
  return withClient(url, async (c) => new Map((await c.query<{ parent_task_id: string; revision: string }>('SELECT parent_task_id, revision FROM task_orchestrator.parents')).rows.map((r) => [r.parent_task_id, Number(r.revision)])));
}

async function bodies(url: string): Promise<Map<string, any>> {
  return withClient(url, async (c) => new Map((await c.query<{ parent_task_id: string; body: string }>('SELECT parent_task_id, body FROM task_orchestrator.parents')).rows.map((r) => [r.parent_task_id, JSON.parse(r.body)])));
}

async function unreachable(): Promise<string | null> {
  try {
    await admin((c) => c.query('SELECT 1'));
    return null;
  } catch (error) {
    return `no PostgreSQL at ${redacted(ADMIN_URL)} (${(error as Error).message}); set TEST_DATABASE_URL to one where this user may CREATE DATABASE`;
  }
}

function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(ADMIN_URL, work);
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

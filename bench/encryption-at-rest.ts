/**
 * Encryption at rest end to end (issue 13's target: complete_subtask at most 15 % slower with a key):
 * two real servers over stdio, one with a key and one without, each on its own fresh store, driven by
 * the same workflow in turns (one round on each, alternately), so both meet the same machine load.
 * On the file store, and on PostgreSQL when a server answers at BENCH_DATABASE_URL (default: the local
 * one, user postgres), in a fresh database dropped after.
 *
 * `node --import tsx bench/encryption-at-rest.ts [--smoke]` prints the figures; bench/run.ts adds them as rows.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { CLI, callOk, spawnServer, type Server } from './mcp.js';
import { PLAN, RESULTS } from './per-tool.js';
import type { Row } from './report.js';
import { p50, p95 } from './stats.js';

export interface EncryptionRun {
  store: 'file' | 'postgres';
  /** complete_subtask latencies in ms, without and with a key. */
  clear: number[];
  encrypted: number[];
}

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function runEncryptionAtRest(rounds: number, workDir: string, progress: (message: string) => void): Promise<EncryptionRun[]> {
  const dir = path.join(workDir, 'encryption-at-rest');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const keyFile = path.join(dir, 'bench.key');
  writeFileSync(keyFile, randomBytes(32));
  chmodSync(keyFile, 0o600);
  const runs: EncryptionRun[] = [await compare('file', rounds, dir, keyFile, progress)];
  const database = await freshDatabase();
  if (database) {
    try {
      runs.push(await compare('postgres', rounds, dir, keyFile, progress, database.url));
    } finally {
      await database.drop();
    }
  } else {
    progress(`encryption at rest: no PostgreSQL at ${ADMIN_URL.replace(/:[^:@/]*@/, ':***@')}, file store only`);
  }
  return runs;
}

async function compare(store: EncryptionRun['store'], rounds: number, dir: string, keyFile: string, progress: (message: string) => void, databaseUrl?: string): Promise<EncryptionRun> {
  const start = async (name: string, env: Record<string, string>) => {
    const baseDir = path.join(dir, `${store}-${name}`);
    await mkdir(baseDir, { recursive: true });
    return spawnServer({ args: [CLI, 'serve'], cwd: baseDir, env: { MCP_TASK_ORCHESTRATOR_BASE_DIR: baseDir, ...(databaseUrl ? { MCP_TASK_ORCHESTRATOR_DATABASE_URL: databaseUrl } : {}), ...env } });
  };
  // One database for both: the tables are shared, the parents are not (each server plans its own).
  const clear = await start('clear', {});
  const encrypted = await start('encrypted', { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: keyFile });
  const run: EncryptionRun = { store, clear: [], encrypted: [] };
  try {
    const warmup = Math.min(3, rounds);
    for (let round = 0; round < warmup + rounds; round++) {
      const measuring = round >= warmup;
      // Alternate which goes first, so neither always follows the other's fsyncs.
      const order: [Server, number[]][] = round % 2 ? [[clear, run.clear], [encrypted, run.encrypted]] : [[encrypted, run.encrypted], [clear, run.clear]];
      for (const [server, into] of order) await oneRound(server, measuring ? into : null);
      if (round % 25 === 0) progress(`encryption at rest (${store}) round ${round + 1}/${warmup + rounds}`);
    }
  } finally {
    await clear.close();
    await encrypted.close();
  }
  return run;
}

/** The per-tool phase's workflow on one parent: plan, then execute and complete each subtask but the last. */
async function oneRound(server: Server, into: number[] | null): Promise<void> {
  const plan = await callOk(server, 'orchestrator_plan_task', PLAN);
  const order = plan.data.execution_order as string[];
  for (const id of order.slice(0, -1)) {
    await callOk(server, 'orchestrator_execute_subtask', { task_id: id });
    const reply = await callOk(server, 'orchestrator_complete_subtask', { task_id: id, results: RESULTS, artifacts: ['packages/reports/src/csv.ts'], artifact_type: 'code' });
    into?.push(reply.ms);
  }
}

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const name = `orchestrator_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch {
    return null;
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** The target: with a key, complete_subtask's p50 at most 15 % above the same run's without. */
export const ENCRYPTION_SLOWDOWN_TARGET = 1.15;

export function encryptionRows(runs: EncryptionRun[]): Row[] {
  return runs.map((run) => {
    const ratio = p50(run.encrypted) / p50(run.clear);
    return {
      label: `complete_subtask with encryption at rest (${run.store} store)`,
      value: `p50 ${p50(run.encrypted).toFixed(2)} ms · p95 ${p95(run.encrypted).toFixed(2)} ms`,
      ratio: `${ratio.toFixed(2)}x without`,
      target: `<= ${ENCRYPTION_SLOWDOWN_TARGET.toFixed(2)}x`,
      result: ratio <= ENCRYPTION_SLOWDOWN_TARGET ? 'PASS' : 'MISS',
      note: `without a key: p50 ${p50(run.clear).toFixed(2)} ms · p95 ${p95(run.clear).toFixed(2)} ms; n=${run.encrypted.length} each, two servers in turns, real stdio, same workflow as the per-tool phase`,
    } satisfies Row;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const smoke = process.argv.includes('--smoke');
  const runs = await runEncryptionAtRest(smoke ? 3 : 100, path.join(import.meta.dirname, '.work', 'encryption-only'), (m) => process.stderr.write(`${m}\n`));
  for (const row of encryptionRows(runs)) process.stdout.write(`${row.label}: ${row.value} (${row.ratio}, target ${row.target}: ${row.result}); ${row.note}\n`);
}

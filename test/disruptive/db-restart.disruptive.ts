/**
 * The database restarts in the middle of a run of real team servers: they keep running, calls made
 * while it is away are refused with STORAGE_UNAVAILABLE (never answered wrongly), service resumes
 * without restarting them, and no acknowledged change is lost.
 *
 * It restarts the whole PostgreSQL cluster, which cuts every other test's connections: `npm test` runs
 * this folder on its own, after the main suite (files named *.disruptive.ts, so test/* /*.test.ts never
 * picks them up). It needs pg_ctlcluster and root; elsewhere it skips with one line, except under
 * CI=true, where it must run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import pg from 'pg';
import { ADMIN_URL, freshDatabase, unavailable } from '../postgres/db.js';
import { doctor, independentPlan, killAllTeamServers, ok, spawnTeamServer, storedParents, type TeamServer } from '../postgres/team-servers.js';
import type { ToolReply } from '../mcp/harness.js';

const SERVERS = 4;
/** Successful calls each server must make after the restart before the run ends. */
const AFTER_RESTART = 10;

/** The cluster serving ADMIN_URL ("15 main"), or why it cannot be restarted here. */
function clusterToRestart(): { version: string; name: string } | { skip: string } {
  if (unavailable) return { skip: unavailable };
  if (process.getuid?.() !== 0) return { skip: 'not root: may not restart the PostgreSQL cluster' };
  const list = spawnSync('pg_lsclusters', ['-h'], { encoding: 'utf8' });
  if (list.error || list.status !== 0) return { skip: `pg_lsclusters does not run here (${list.error?.message ?? list.stderr.trim()}): no local cluster to restart` };
  const port = new URL(ADMIN_URL).port || '5432';
  const line = list.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((fields) => fields[2] === port);
  if (!line) return { skip: `no local cluster on port ${port} (pg_lsclusters: ${list.stdout.trim()})` };
  return { version: line[0]!, name: line[1]! };
}

const cluster = clusterToRestart();
const skip = 'skip' in cluster ? `skipped: ${cluster.skip}` : false;
if (skip && process.env.CI === 'true') throw new Error(`CI=true, so the database restart test must run, but it cannot: ${skip}`);

function pgCtlCluster(action: 'restart' | 'start'): Promise<{ code: number | null; output: string }> {
  const { version, name } = cluster as { version: string; name: string };
  return new Promise((resolve) => {
    const child = spawn('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Whether the cluster answers; when it does not, starts it and waits (a failed test must not leave it down). */
async function ensureClusterRunning(): Promise<void> {
  if (await answers()) return;
  await pgCtlCluster('start');
  for (let i = 0; i < 120 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 250));
}

async function answers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Tally {
  /** Acknowledged completions: subtask -> results. */
  completed: Map<string, string>;
  /** Acknowledged changes (executions, and completions that were not replays). */
  changes: number;
  /** Refusals saying the change may or may not be stored (lost during COMMIT). */
  unknownOutcomes: number;
  refusals: number;
  /** Calls answered with anything but success or STORAGE_UNAVAILABLE, or a success that contradicts what was acknowledged. */
  wrong: string[];
}

describe('the database restarts in the middle of a run', { skip }, () => {
  test(`${SERVERS} servers keep running through a cluster restart: refusals are STORAGE_UNAVAILABLE, service resumes, nothing acknowledged is lost`, { timeout: 180_000 }, async (t) => {
    const db = await freshDatabase();
    const servers: TeamServer[] = [];
    try {
      servers.push(...(await Promise.all(Array.from({ length: SERVERS }, () => spawnTeamServer(db.url)))));
      // One subtask more than the servers can take, so the parent stays active (listed by get_status).
      const shared = ok(await servers[0]!.call('orchestrator_plan_task', independentPlan('Through a restart', SERVERS * 49 + 1))).data;
      const parentId: string = shared.parent_task_id;
      const taskIds: string[] = shared.subtasks.map((s: { task_id: string }) => s.task_id);
      const initialRevision = (await storedParents(db)).get(parentId)!.revision!;
      const tally: Tally = { completed: new Map(), changes: 0, unknownOutcomes: 0, refusals: 0, wrong: [] };
      const phase = { restarting: false, restartedAt: 0, stop: false };
      const successesAfterRestart = new Array<number>(SERVERS).fill(0);

      /** One call; a refusal other than STORAGE_UNAVAILABLE is a wrong answer. */
      const call = async (j: number, name: string, args: Record<string, unknown>): Promise<ToolReply | null> => {
        const reply = await servers[j]!.call(name, args);
        if (!reply.isError) {
          if (phase.restartedAt) successesAfterRestart[j]!++;
          return reply;
        }
        if (reply.error?.code !== 'STORAGE_UNAVAILABLE') tally.wrong.push(`${name} on server ${j}: ${reply.text.slice(0, 200)}`);
        else {
          tally.refusals++;
          assert.equal(reply.error.data?.retryable, true, reply.text);
          if (reply.error.data?.outcome === 'unknown') tally.unknownOutcomes++;
        }
        return null;
      };
      const untilDone = async <T>(attempt: () => Promise<T | null>): Promise<T> => {
        for (;;) {
          const result = await attempt();
          if (result !== null) return result;
          await new Promise((r) => setTimeout(r, 50));
        }
      };

      const work = servers.map(async (_, j) => {
        const agent = `agent-${j}`;
        for (const taskId of taskIds.filter((_, i) => i % SERVERS === j)) {
          if (phase.stop) return;
          await untilDone(() => call(j, 'orchestrator_execute_subtask', { task_id: taskId, agent_id: agent }));
          tally.changes++;
          const results = `Server ${j} finished ${taskId}`;
          let mayBeStored = false; // an earlier attempt's outcome was unknown
          const done = await untilDone(async () => {
            const before = tally.unknownOutcomes;
            const reply = await call(j, 'orchestrator_complete_subtask', { task_id: taskId, agent_id: agent, results, idempotency_key: `complete-${taskId}` });
            if (tally.unknownOutcomes > before) mayBeStored = true;
            return reply;
          });
          // A replay means an earlier attempt was stored: it must not have been refused as "nothing was changed".
          if ((done.data.replayed || done.data.already_recorded) && !mayBeStored) tally.wrong.push(`${taskId}: refused with "nothing was changed", yet a retry found it recorded`);
          if (!done.data.replayed && !done.data.already_recorded) tally.changes++;
          tally.completed.set(taskId, results);
          // A read must show every completion acknowledged before it was sent.
          const known = tally.completed.size;
          const status = await call(j, 'orchestrator_get_status', { include_completed: true, limit: 1 });
          if (status && status.data.counts.completed < known) tally.wrong.push(`get_status on server ${j} counted ${status.data.counts.completed} completed, ${known} were acknowledged before it was asked`);
          if (phase.restartedAt && successesAfterRestart.every((n) => n >= AFTER_RESTART)) phase.stop = true;
        }
      });

      // Restart once every server has completed a few subtasks, while all of them keep calling.
      const deadline = Date.now() + 60_000;
      while (tally.completed.size < SERVERS * 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const beforeRestart = tally.completed.size;
      const restart = await pgCtlCluster('restart');
      phase.restartedAt = Date.now();
      assert.equal(restart.code, 0, `pg_ctlcluster restart failed: ${restart.output}`);
      const resumeBy = Date.now() + 60_000;
      while (!phase.stop && Date.now() < resumeBy && !successesAfterRestart.every((n) => n >= AFTER_RESTART)) await new Promise((r) => setTimeout(r, 50));
      phase.stop = true;
      await Promise.all(work);

      t.diagnostic(`${beforeRestart} completions before the restart, ${tally.completed.size} in all; ${tally.refusals} STORAGE_UNAVAILABLE refusals (${tally.unknownOutcomes} with outcome unknown); successes per server after it: ${successesAfterRestart.join(', ')}`);
      assert.deepEqual(tally.wrong, [], 'every call is answered rightly or refused with STORAGE_UNAVAILABLE');
      assert.ok(tally.refusals > 0, 'the restart refused no call: it did not happen under load, and the test proved nothing');
      for (const [j, n] of successesAfterRestart.entries()) assert.ok(n >= AFTER_RESTART, `server ${j} made only ${n} successful calls after the restart: service did not resume`);
      for (const server of servers) assert.doesNotThrow(() => process.kill(server.pid, 0), `server ${server.pid} died during the restart`);

      const stored = (await storedParents(db)).get(parentId)!;
      for (const [taskId, results] of tally.completed) {
        const subtask = stored.subtasks.find((s) => s.task_id === taskId)!;
        assert.equal(subtask.status, 'completed', `${taskId}: acknowledged completion lost`);
        assert.equal(subtask.results, results);
      }
      const grew = stored.revision! - initialRevision;
      assert.ok(grew >= tally.changes && grew <= tally.changes + tally.unknownOutcomes, `revision grew by ${grew}; ${tally.changes} changes acknowledged, ${tally.unknownOutcomes} of unknown outcome`);
      const health = await doctor(db.url);
      assert.deepEqual(health.problems, [], health.output);
    } finally {
      await ensureClusterRunning();
      await Promise.all(servers.map((s) => s.kill()));
      await killAllTeamServers();
      await db.drop();
    }
  });
});

/**
 * Team mode proved with real processes: several `serve --database-url` servers, each with its own
 * project folder (as on separate machines), driven over stdio by the official MCP client, sharing one
 * PostgreSQL database. Concurrent completions lose nothing, a lease race has exactly one winner, and
 * servers killed mid-call leave every acknowledged change stored and nothing broken.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seededRandom } from '../process/helpers.js';
import { freshDatabase, skipWithoutPostgres, type TestDatabase } from './db.js';
import { doctor, independentPlan, killAllTeamServers, ok, spawnTeamServer, storedParents, type TeamServer } from './team-servers.js';

const SERVERS = 6;

/** An acknowledged change: the subtask, and what it must show in the database afterwards. */
interface Ack {
  parentId: string;
  taskId: string;
  kind: 'execute' | 'complete';
  results?: string;
}

async function startServers(url: string, count: number): Promise<TeamServer[]> {
  return Promise.all(Array.from({ length: count }, () => spawnTeamServer(url)));
}

async function plan(server: TeamServer, description: string, count: number): Promise<{ parentId: string; taskIds: string[] }> {
  const data = ok(await server.call('orchestrator_plan_task', independentPlan(description, count)), 'plan').data;
  return { parentId: data.parent_task_id, taskIds: data.subtasks.map((s: { task_id: string }) => s.task_id) };
}

/** Every acknowledged change is in the database: completions with their results, executions at least started. */
function assertAcknowledgedStored(parents: Map<string, any>, acks: Ack[]): void {
  for (const ack of acks) {
    const subtask = parents.get(ack.parentId)?.subtasks.find((s: { task_id: string }) => s.task_id === ack.taskId);
    assert.ok(subtask, `${ack.taskId} is missing from the database`);
    if (ack.kind === 'complete') {
      assert.equal(subtask.status, 'completed', `${ack.taskId}: acknowledged completion lost (status ${subtask.status})`);
      assert.equal(subtask.results, ack.results, `${ack.taskId}: acknowledged results lost`);
    } else assert.notEqual(subtask.status, 'pending', `${ack.taskId}: acknowledged execution lost`);
  }
}

describe('team servers as separate processes on one database', skipWithoutPostgres, () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await killAllTeamServers();
    await db?.drop();
  });

  test(`${SERVERS} servers completing the subtasks of two shared parents at once: nothing lost, revisions add up`, { timeout: 120_000 }, async () => {
    const servers = await startServers(db.url, SERVERS);
    try {
      // 36 subtasks of each parent completed, one left pending so the parents stay active.
      const parents = [await plan(servers[0]!, 'Shared parent A', 37), await plan(servers[1]!, 'Shared parent B', 37)];
      const initial = await storedParents(db);
      const acks: Ack[] = [];
      await Promise.all(
        servers.map(async (server, j) => {
          for (let i = j; i < 36; i += SERVERS) {
            for (const { parentId, taskIds } of parents) {
              const taskId = taskIds[i]!;
              ok(await server.call('orchestrator_execute_subtask', { task_id: taskId, agent_id: `agent-${j}` }), `execute ${taskId} on server ${j}`);
              acks.push({ parentId, taskId, kind: 'execute' });
              const results = `Done by server ${j}: ${taskId}`;
              const done = ok(await server.call('orchestrator_complete_subtask', { task_id: taskId, agent_id: `agent-${j}`, results }), `complete ${taskId} on server ${j}`);
              assert.equal(done.data.status, 'completed');
              acks.push({ parentId, taskId, kind: 'complete', results });
            }
          }
        }),
      );
      const stored = await storedParents(db);
      assertAcknowledgedStored(stored, acks);
      for (const { parentId } of parents) {
        const changes = acks.filter((a) => a.parentId === parentId).length;
        assert.equal(changes, 72);
        assert.equal(stored.get(parentId)!.revision, initial.get(parentId)!.revision! + changes, `${parentId}: the revision must grow by exactly the ${changes} acknowledged changes`);
        assert.equal(stored.get(parentId)!.subtasks.filter((s) => s.status === 'completed').length, 36);
      }
    } finally {
      await Promise.all(servers.map((s) => s.kill()));
    }
  });

  test(`a lease race on one subtask across ${SERVERS} servers, six times: exactly one winner, the others SUBTASK_CLAIMED`, { timeout: 120_000 }, async () => {
    const servers = await startServers(db.url, SERVERS);
    try {
      const { parentId, taskIds } = await plan(servers[0]!, 'Race', 6);
      for (const taskId of taskIds) {
        const replies = await Promise.all(servers.map((s, j) => s.call('orchestrator_execute_subtask', { task_id: taskId, agent_id: `racer-${j}` })));
        const winners = replies.flatMap((r, j) => (r.isError ? [] : [j]));
        assert.equal(winners.length, 1, `${taskId}: ${replies.map((r) => r.text.slice(0, 100)).join(' | ')}`);
        for (const loser of replies.filter((r) => r.isError)) assert.equal(loser.error?.code, 'SUBTASK_CLAIMED', loser.text);
        const stored = (await storedParents(db)).get(parentId)!.subtasks.find((s) => s.task_id === taskId)!;
        assert.equal(stored.lease?.agent_id, `racer-${winners[0]}`, 'the lease in the database is the winner\'s');
      }
    } finally {
      await Promise.all(servers.map((s) => s.kill()));
    }
  });

  test('servers SIGKILLed at random moments with calls in flight, four rounds: every acknowledged change stored, every row parses, the doctor finds nothing broken', { timeout: 180_000 }, async (t) => {
    const seed = Date.now() % 100_000;
    const random = seededRandom(seed);
    const acks: Ack[] = [];
    let killedInFlight = 0;
    for (let round = 0; round < 4; round++) {
      const servers = await startServers(db.url, 4);
      try {
        const shared = await plan(servers[0]!, `Shared, round ${round}`, 160);
        const own = await Promise.all(servers.map((s, j) => plan(s, `Own of server ${j}, round ${round}`, 40)));
        const initial = await storedParents(db);
        let sent = 0;
        const inFlight = new Map<TeamServer, number>();
        const work = servers.map(async (server, j) => {
          // Shared and own work taking turns, so kills land on both contended and uncontended rows.
          const mine = shared.taskIds.filter((_, i) => i % servers.length === j);
          const queue = mine.flatMap((taskId, i) => [{ parentId: shared.parentId, taskId }, ...(own[j]!.taskIds[i] ? [{ parentId: own[j]!.parentId, taskId: own[j]!.taskIds[i]! }] : [])]);
          const call = async (name: string, args: Record<string, unknown>) => {
            sent++;
            inFlight.set(server, (inFlight.get(server) ?? 0) + 1);
            try {
              return await server.call(name, args);
            } finally {
              inFlight.set(server, inFlight.get(server)! - 1);
            }
          };
          try {
            for (const { parentId, taskId } of queue) {
              const agent = `agent-${round}-${j}`;
              if (!(await call('orchestrator_execute_subtask', { task_id: taskId, agent_id: agent })).isError) acks.push({ parentId, taskId, kind: 'execute' });
              const results = `Round ${round}, server ${j}: ${taskId}`;
              const done = await call('orchestrator_complete_subtask', { task_id: taskId, agent_id: agent, results });
              if (!done.isError) acks.push({ parentId, taskId, kind: 'complete', results });
            }
          } catch {
            // the connection closed under the call: the server was killed, the call is not acknowledged
          }
        });
        // Each server dies at its own random moment while its loop runs, once the round has acknowledged a
        // few changes (a loaded machine may take seconds for the first ones: a fixed delay proved nothing there).
        const ackedBefore = acks.length;
        const roundStarted = Date.now();
        while (acks.length - ackedBefore < 2 * servers.length && Date.now() - roundStarted < 30_000) await new Promise((r) => setTimeout(r, 20));
        await Promise.all(
          servers.map(async (server) => {
            await new Promise((r) => setTimeout(r, Math.floor(random() * 1500)));
            killedInFlight += inFlight.get(server) ?? 0;
            await server.kill();
          }),
        );
        await Promise.all(work);
        const stored = await storedParents(db);
        assertAcknowledgedStored(stored, acks);
        for (const parentId of [shared.parentId, ...own.map((o) => o.parentId)]) {
          const acknowledged = acks.filter((a) => a.parentId === parentId).length;
          const grew = stored.get(parentId)!.revision! - initial.get(parentId)!.revision!;
          // A call cut off by the kill may have committed (then it grew by one more than acknowledged).
          assert.ok(grew >= acknowledged && grew <= acknowledged + servers.length, `${parentId}: revision grew by ${grew}, ${acknowledged} changes acknowledged (seed ${seed})`);
        }
        assert.ok(sent > 0);
        const health = await doctor(db.url);
        assert.equal(health.code, 0, health.output);
        assert.deepEqual(health.problems, [], health.output);
      } finally {
        await Promise.all(servers.map((s) => s.kill()));
      }
    }
    t.diagnostic(`seed ${seed}: ${acks.length} acknowledged changes (${acks.filter((a) => a.kind === 'complete').length} completions), ${killedInFlight} calls in flight at the kills`);
    assert.ok(acks.filter((a) => a.kind === 'complete').length > 20, `too few completions before the kills to prove anything: ${acks.length}`);
    assert.ok(killedInFlight >= 4, `only ${killedInFlight} calls were in flight when their server was killed (seed ${seed})`);
  });
});

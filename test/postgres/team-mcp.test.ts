import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectInProcess, samplePlan, tempProject, type Connection } from '../mcp/harness.js';
import { ADMIN_URL, freshDatabase, skipWithoutPostgres, type TestDatabase } from './db.js';
import { TcpProxy } from './proxy.js';

const DATABASE_URL = 'MCP_TASK_ORCHESTRATOR_DATABASE_URL';

/** A server with its own project folder (as on its own machine), keeping its tasks in the database. */
async function teamServer(url: string, env: Record<string, string> = {}): Promise<{ mcp: Connection; dir: string; close(): Promise<void> }> {
  const project = await tempProject();
  const mcp = await connectInProcess(project.dir, { [DATABASE_URL]: url, ...env });
  return { mcp, dir: project.dir, close: async () => (await mcp.close(), await project.remove()) };
}

/**
 * A server on a fresh database reached through a TCP proxy the test can stop or cut (the database "going
 * away" without touching the cluster); `end` closes the server, the proxy and drops the database.
 */
async function serverBehindProxy(env: Record<string, string> = {}) {
  const db = await freshDatabase();
  const admin = new URL(ADMIN_URL);
  const proxy = new TcpProxy(admin.hostname, Number(admin.port || 5432));
  await proxy.start();
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  const server = await teamServer(viaProxy.toString(), env);
  const end = async () => {
    await server.close();
    await proxy.stop();
    await db.drop();
  };
  return { db, server, proxy, end };
}

function ok<T extends { isError: boolean; text: string }>(reply: T): T {
  assert.equal(reply.isError, false, reply.text);
  return reply;
}

describe('team mode through the official MCP client, in process', skipWithoutPostgres, () => {
  let db: TestDatabase;
  let first: Awaited<ReturnType<typeof teamServer>>;
  let second: Awaited<ReturnType<typeof teamServer>>;

  before(async () => {
    db = await freshDatabase();
    first = await teamServer(db.url);
    second = await teamServer(db.url);
  });
  after(async () => {
    await first?.close();
    await second?.close();
    await db?.drop();
  });

  test('a whole orchestration on one server, seen and continued by another; nothing of it in the project folders', async () => {
    ok(await first.mcp.call('orchestrator_initialize_session'));
    const plan = ok(await first.mcp.call('orchestrator_plan_task', samplePlan)).data;
    const ids: Record<string, string> = Object.fromEntries(plan.subtasks.map((s: { handle: string; task_id: string }) => [s.handle, s.task_id]));
    const session = ok(await second.mcp.call('orchestrator_initialize_session')).data;
    assert.deepEqual(session.active_tasks.map((t: { parent_task_id: string }) => t.parent_task_id), [plan.parent_task_id]);

    const refused = await second.mcp.call('orchestrator_execute_subtask', { task_id: ids.build });
    assert.equal(refused.error?.code, 'UNMET_DEPENDENCIES');
    // Each subtask started on one server and completed on the other, with long detailed work kept in the database.
    for (const [index, handle] of ['design', 'build', 'docs', 'test'].entries()) {
      const [starter, finisher] = index % 2 ? [second, first] : [first, second];
      const started = ok(await starter.mcp.call('orchestrator_execute_subtask', { task_id: ids[handle], agent_id: 'agent-1' }));
      assert.match(started.text, /You are|##/);
      const done = ok(await finisher.mcp.call('orchestrator_complete_subtask', { task_id: ids[handle], agent_id: 'agent-1', summary: `${handle} done`, detailed_work: `${handle} `.repeat(600), next_action: 'continue' }));
      assert.equal(done.data.detailed_work_file, `tasks/work/${plan.parent_task_id}/${ids[handle]}.1.md`);
    }
    const documents = await db.query(`SELECT path FROM task_orchestrator.documents ORDER BY path`);
    assert.equal(documents.length, 4);

    const status = ok(await second.mcp.call('orchestrator_get_status', { include_completed: true })).data;
    assert.equal(status.counts.completed, 4);
    assert.deepEqual(status.parents, { active: 0, archived: 1 });
    const report = ok(await first.mcp.call('orchestrator_synthesize_results', { parent_task_id: plan.parent_task_id })).data;
    assert.equal(report.archived, true);
    const history = ok(await second.mcp.call('orchestrator_get_history', { task_id: plan.parent_task_id })).data;
    assert.ok(history.total_events >= 9, `events: ${history.total_events}`);

    for (const server of [first, second]) {
      const tasksFolder = await stat(path.join(server.dir, '.task_orchestrator', 'tasks')).catch(() => null);
      assert.equal(tasksFolder, null, 'no task folder in the project in team mode');
      assert.ok((await stat(path.join(server.dir, '.task_orchestrator', 'roles', 'default_roles.yaml'))).isFile(), 'local roles kept to seed from');
    }
  });

  test('idempotency keys hold across servers: a retry on the other server replays the first reply', async () => {
    const plan = ok(await first.mcp.call('orchestrator_plan_task', { ...samplePlan, idempotency_key: 'plan-once' })).data;
    const replay = ok(await second.mcp.call('orchestrator_plan_task', { ...samplePlan, idempotency_key: 'plan-once' })).data;
    assert.equal(replay.parent_task_id, plan.parent_task_id);
    assert.equal(replay.replayed, true);
    const design = plan.subtasks[0].task_id;
    ok(await first.mcp.call('orchestrator_execute_subtask', { task_id: design, agent_id: 'a' }));
    const args = { task_id: design, agent_id: 'a', summary: 'designed', next_action: 'continue', idempotency_key: 'complete-once' };
    const done = ok(await first.mcp.call('orchestrator_complete_subtask', args)).data;
    const again = ok(await second.mcp.call('orchestrator_complete_subtask', args)).data;
    assert.deepEqual({ ...again, replayed: undefined }, { ...done, replayed: undefined });
    assert.equal(again.replayed, true);
  });

  test('maintenance reports on the database and releases expired leases', async () => {
    const plan = ok(await first.mcp.call('orchestrator_plan_task', samplePlan)).data;
    const design = plan.subtasks[0].task_id;
    ok(await first.mcp.call('orchestrator_execute_subtask', { task_id: design, agent_id: 'gone-agent' }));
    await db.query(`UPDATE task_orchestrator.parents SET body = replace(body, (body::jsonb -> 'subtasks' -> 0 -> 'lease' ->> 'expires_at'), '2000-01-01T00:00:00.000Z') WHERE parent_task_id = $1`, [plan.parent_task_id]);
    const report = ok(await second.mcp.call('orchestrator_maintenance', { action: 'report' })).data;
    assert.ok(report.items.some((f: { kind: string }) => f.kind === 'schema_version'), JSON.stringify(report.items));
    assert.ok(report.items.some((f: { kind: string; subject: string }) => f.kind === 'expired_lease' && f.subject === `subtask ${design}`), JSON.stringify(report.items));
    const released = ok(await second.mcp.call('orchestrator_maintenance', { action: 'release_expired_leases' })).data;
    assert.equal(released.counts.released, 1);
    const taken = ok(await second.mcp.call('orchestrator_execute_subtask', { task_id: design, agent_id: 'new-agent' })).data;
    assert.equal(taken.lease.agent_id, 'new-agent');
  });
});

describe('a lease race between two servers on one database', skipWithoutPostgres, () => {
  test('of two agents executing the same subtask at the same instant on two servers, exactly one wins', async () => {
    const db = await freshDatabase();
    const a = await teamServer(db.url);
    const b = await teamServer(db.url);
    try {
      const subtasks = Array.from({ length: 8 }, (_, i) => ({ task_id: `s${i}`, title: `Independent ${i}`, description: 'd', specialist_type: 'implementer' }));
      const plan = ok(await a.mcp.call('orchestrator_plan_task', { description: 'Race', subtasks })).data;
      for (const { task_id } of plan.subtasks) {
        const replies = await Promise.all([a.mcp.call('orchestrator_execute_subtask', { task_id, agent_id: 'agent-a' }), b.mcp.call('orchestrator_execute_subtask', { task_id, agent_id: 'agent-b' })]);
        const winners = replies.filter((r) => !r.isError);
        assert.equal(winners.length, 1, `${task_id}: ${replies.map((r) => r.text.slice(0, 80)).join(' | ')}`);
        assert.equal(replies.find((r) => r.isError)!.error?.code, 'SUBTASK_CLAIMED');
      }
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});

describe('losing the database', skipWithoutPostgres, () => {
  test('a server pointed at a closed port refuses every call with STORAGE_UNAVAILABLE, saying what to do', async () => {
    const server = await teamServer('postgres://postgres:topsecret@127.0.0.1:1/tasks');
    try {
      const reply = await server.mcp.call('orchestrator_get_status');
      assert.equal(reply.isError, true);
      assert.match(reply.text, /^STORAGE_UNAVAILABLE: The database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/tasks cannot be reached \(.*ECONNREFUSED.*\).*Nothing was changed\. Check that PostgreSQL runs/);
      assert.equal(reply.error?.data?.retryable, true);
      assert.doesNotMatch(reply.text, /topsecret/);
    } finally {
      await server.close();
    }
  });

  test('while the database is away calls are refused, never answered wrongly; when it comes back the same server works again', async () => {
    const { db, server, proxy, end } = await serverBehindProxy();
    try {
      const plan = ok(await server.mcp.call('orchestrator_plan_task', samplePlan)).data;
      const design = plan.subtasks[0].task_id;
      ok(await server.mcp.call('orchestrator_execute_subtask', { task_id: design }));

      await proxy.stop(); // the database goes away, connections and all
      await delay(200); // while the server is idle: its idle connections fail then, which must not end the process
      const args = { task_id: design, summary: 'designed while the database was away', next_action: 'continue', idempotency_key: 'k-1' };
      for (const [tool, call] of [['orchestrator_complete_subtask', args], ['orchestrator_get_status', {}], ['orchestrator_plan_task', samplePlan]] as const) {
        const refused = await server.mcp.call(tool, call);
        assert.equal(refused.error?.code, 'STORAGE_UNAVAILABLE', `${tool}: ${refused.text}`);
      }
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM task_orchestrator.parents`))[0]!.n, 1, 'nothing was stored meanwhile');

      await proxy.start(); // back, on the same port
      const done = ok(await server.mcp.call('orchestrator_complete_subtask', args)).data;
      assert.equal(done.status, 'completed');
      const status = ok(await server.mcp.call('orchestrator_get_status')).data;
      assert.equal(status.counts.completed, 1);
    } finally {
      await end();
    }
  });

  test('after a database restart that left every idle connection dead unawares, the next calls just work', async () => {
    const { server, proxy, end } = await serverBehindProxy({ MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE: '4' });
    try {
      // Several connections in the pool, all idle: calls at the same time open them.
      const fillPool = () => Promise.all(Array.from({ length: 4 }, () => server.mcp.call('orchestrator_get_status')));
      await fillPool();
      proxy.restartSilently();
      const plan = ok(await server.mcp.call('orchestrator_plan_task', samplePlan)).data; // a transaction first
      await fillPool();
      proxy.restartSilently();
      ok(await server.mcp.call('orchestrator_get_status')); // a read first
      ok(await server.mcp.call('orchestrator_execute_subtask', { task_id: plan.subtasks[0].task_id }));
    } finally {
      await end();
    }
  });

  test('a connection cut while COMMIT is on its way: refused as "may or may not be stored", and the retry with the same key applies it exactly once', async () => {
    const { server, proxy, end } = await serverBehindProxy();
    try {
      const plan = ok(await server.mcp.call('orchestrator_plan_task', samplePlan)).data;
      const design = plan.subtasks[0].task_id;
      ok(await server.mcp.call('orchestrator_execute_subtask', { task_id: design }));
      const args = { task_id: design, summary: 'designed', next_action: 'continue', idempotency_key: 'cut-at-commit' };
      proxy.cutAfter = (chunk) => chunk.includes(COMMIT_MESSAGE);
      const refused = await server.mcp.call('orchestrator_complete_subtask', args);
      assert.equal(refused.error?.code, 'STORAGE_UNAVAILABLE', refused.text);
      assert.match(refused.text, /lost while the change was being committed .* so it may or may not be stored\. Call again with the same idempotency_key/);
      assert.equal(refused.error?.data?.outcome, 'unknown');
      const retried = ok(await server.mcp.call('orchestrator_complete_subtask', args)).data;
      assert.equal(retried.status, 'completed');
      const history = ok(await server.mcp.call('orchestrator_get_history', { task_id: design })).data;
      assert.equal(history.events.filter((e: { to: string }) => e.to === 'completed').length, 1, JSON.stringify(history.events));
    } finally {
      await end();
    }
  });
});

/** The simple-protocol message of the driver's client.query('COMMIT'): 'Q', its length, the text and a NUL. */
const COMMIT_MESSAGE = Buffer.from([0x51, 0, 0, 0, 11, ...Buffer.from('COMMIT'), 0]);

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { samplePlan, tempProject } from '../mcp/harness.js';
import { holdTaskLock } from './held-lock.js';
import { connectHttp, rawRequest, rawSession, serverPerSuite, sessionHeaders, startServer, toolCallMessage, type HttpServerProcess } from './harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function taskFile(dir: string, parent: string, where: 'active' | 'archive' = 'active'): string {
  return path.join(dir, '.task_orchestrator', 'tasks', where, `${parent}.json`);
}

/** A raw tool call in a session, its reply's result. */
async function rawCall(server: HttpServerProcess, session: string, id: number, name: string, args: Record<string, unknown>): Promise<any> {
  const reply = await rawRequest(server.url, { headers: sessionHeaders(server.token, session), body: JSON.stringify(toolCallMessage(id, name, args)) });
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body).result;
}

describe('a client that vanishes in the middle of a call', () => {
  const suite = serverPerSuite();

  test('leaves nothing half done: the call runs to its end, the file parses, a retry with the same key replays it', async () => {
    const session = await rawSession(suite.server.url, suite.server.token);
    const plan = await rawCall(suite.server, session, 2, 'orchestrator_plan_task', samplePlan);
    const parent = plan.structuredContent.parent_task_id as string;
    const design = plan.structuredContent.execution_order[0] as string;
    await rawCall(suite.server, session, 3, 'orchestrator_execute_subtask', { task_id: design });

    const lock = await holdTaskLock(suite.project.dir, parent); // the call will wait here, in flight
    const aborted = new AbortController();
    const args = { task_id: design, results: 'Design agreed', idempotency_key: 'vanish-1' };
    const call = fetch(suite.server.url, {
      method: 'POST',
      headers: { ...sessionHeaders(suite.server.token, session), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify(toolCallMessage(4, 'orchestrator_complete_subtask', args)),
      signal: aborted.signal,
    });
    await sleep(300); // the request is with the server, waiting for the lock
    aborted.abort(); // the client is gone: its connection closes
    await assert.rejects(call, /abort/i);
    await lock.release();

    // The server finishes the call it had accepted; the file is whole at every moment.
    let stored: any;
    for (let i = 0; i < 100; i++) {
      stored = JSON.parse(await readFile(taskFile(suite.project.dir, parent), 'utf8'));
      if (stored.subtasks.find((s: any) => s.task_id === design).status === 'completed') break;
      await sleep(30);
    }
    const subtask = stored.subtasks.find((s: any) => s.task_id === design);
    assert.equal(subtask.status, 'completed', 'the accepted call happened, wholly');
    assert.equal(subtask.results, 'Design agreed');
    const tasksDir = path.join(suite.project.dir, '.task_orchestrator', 'tasks', 'active');
    assert.deepEqual((await readdir(tasksDir)).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');

    // The client comes back and retries: the same key replays the first reply and changes nothing.
    const before = await readFile(taskFile(suite.project.dir, parent), 'utf8');
    const retry = await rawCall(suite.server, session, 5, 'orchestrator_complete_subtask', args);
    assert.equal(retry.isError, undefined, JSON.stringify(retry));
    assert.equal(retry.structuredContent.replayed, true);
    assert.equal(await readFile(taskFile(suite.project.dir, parent), 'utf8'), before);
    assert.equal((await fetch(new URL('/healthz', suite.server.url))).status, 200, 'the server is fine');
  });
});

describe('SIGTERM with calls in flight', () => {
  let project: Awaited<ReturnType<typeof tempProject>>;
  const locks: { release(): Promise<void> }[] = [];
  before(async () => {
    project = await tempProject();
  });
  afterEach(async () => {
    await Promise.all(locks.splice(0).map((l) => l.release().catch(() => undefined)));
  });
  after(async () => {
    await project?.remove();
  });

  test('stops accepting at once, finishes the calls in flight, answers them, exits with 0 well within 10 s', async () => {
    const server = await startServer(project.dir);
    const clients = [await connectHttp(server.url, server.token, 'a'), await connectHttp(server.url, server.token, 'b')];
    const work = await Promise.all(
      clients.map(async (mcp, n) => {
        const plan = await mcp.call('orchestrator_plan_task', { ...samplePlan, description: `Shutdown task ${n}` });
        const first = plan.data.execution_order[0] as string;
        assert.equal((await mcp.call('orchestrator_execute_subtask', { task_id: first })).isError, false);
        return { mcp, parent: plan.data.parent_task_id as string, first };
      }),
    );
    for (const { parent } of work) locks.push(await holdTaskLock(project.dir, parent));
    const calls = work.map(({ mcp, first }, n) => mcp.call('orchestrator_complete_subtask', { task_id: first, results: `finished during shutdown ${n}` }));
    await sleep(300); // both calls are in the server, waiting for their task's lock

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await sleep(300);
    await assert.rejects(fetch(new URL('/healthz', server.url)), 'no new connection is accepted');
    await Promise.all(locks.splice(0).map((l) => l.release()));

    const replies = await Promise.all(calls);
    for (const reply of replies) assert.equal(reply.isError, false, `the call in flight was answered: ${reply.text}`);
    const { code, signal } = await server.exited;
    const tookMs = Date.now() - signalled;
    assert.equal(code, 0, `exit code (signal ${signal}); stderr:\n${server.stderr()}`);
    assert.ok(tookMs < 10_000, `exited ${tookMs} ms after SIGTERM`);
    assert.match(server.stderr(), /Shutting down: signal SIGTERM/);
    for (const [n, { parent, first }] of work.entries()) {
      const stored = JSON.parse(await readFile(taskFile(project.dir, parent), 'utf8'));
      assert.equal(stored.subtasks.find((s: any) => s.task_id === first).results, `finished during shutdown ${n}`, 'on disk');
    }
    for (const { mcp } of work) await mcp.close();
  });

  test('SIGINT with idle sessions and their open streams: exits at once, not when stdin closes', async () => {
    const server = await startServer(project.dir);
    const mcp = await connectHttp(server.url, server.token);
    assert.equal((await mcp.call('orchestrator_get_status')).isError, false);
    server.child.stdin.end(); // over HTTP there is no host on stdin: closing it changes nothing
    await sleep(300);
    assert.equal((await fetch(new URL('/healthz', server.url))).status, 200, 'still serving after stdin closed');
    const signalled = Date.now();
    server.child.kill('SIGINT');
    const { code } = await server.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - signalled < 2_000, `exited ${Date.now() - signalled} ms after SIGINT`);
    await mcp.close();
  });

  test('a call that cannot finish does not hold the exit past 10 s', async () => {
    const server = await startServer(project.dir);
    const session = await rawSession(server.url, server.token);
    const plan = await rawCall(server, session, 2, 'orchestrator_plan_task', samplePlan);
    const parent = plan.structuredContent.parent_task_id as string;
    locks.push(await holdTaskLock(project.dir, parent)); // held past the server's whole shutdown
    const stuck = rawRequest(server.url, { headers: sessionHeaders(server.token, session), body: JSON.stringify(toolCallMessage(3, 'orchestrator_execute_subtask', { task_id: plan.structuredContent.execution_order[0] })) }).catch((error: Error) => error);
    await sleep(300);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await server.exited;
    const tookMs = Date.now() - signalled;
    assert.ok(tookMs < 10_000, `exited ${tookMs} ms after SIGTERM`);
    assert.ok(tookMs > 7_000, `it waited for the call first (${tookMs} ms)`);
    assert.match(server.stderr(), /1 call\(s\) were still running/);
    await stuck;
  });
});

/** The security review of serve --http (issue 12): each case the reviewer reproduced, against a real server. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { samplePlan, tempProject } from '../mcp/harness.js';
import { holdTaskLock } from './held-lock.js';
import { rawRequest, rawSession, sessionHeaders, startServer, serverPerSuite, toolCallMessage, type HttpServerProcess } from './harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tool call with fetch, which (unlike rawRequest) can be abandoned; gives up after 8 s so that a call the server never answers fails the test. */
function call(server: HttpServerProcess, session: string, message: object, signal?: AbortSignal): Promise<Response> {
  return fetch(server.url, {
    method: 'POST',
    headers: { ...sessionHeaders(server.token, session), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify(message),
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(8_000)]) : AbortSignal.timeout(8_000),
  });
}

/** A session with a planned task whose first subtask is active, for calls that can be held still on the task's lock. */
async function sessionWithTask(server: HttpServerProcess): Promise<{ session: string; parent: string; first: string }> {
  const session = await rawSession(server.url, server.token);
  const plan = await (await call(server, session, toolCallMessage(2, 'orchestrator_plan_task', samplePlan))).json();
  const parent = plan.result.structuredContent.parent_task_id as string;
  const first = plan.result.structuredContent.execution_order[0] as string;
  assert.equal((await call(server, session, toolCallMessage(3, 'orchestrator_execute_subtask', { task_id: first }))).status, 200);
  return { session, parent, first };
}

describe('calls in flight', () => {
  const locks: { release(): Promise<void> }[] = [];
  const suite = serverPerSuite({ env: { MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS: '1', MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION: '2' } });
  afterEach(async () => {
    await Promise.all(locks.splice(0).map((l) => l.release().catch(() => undefined)));
  });

  test('a request reusing the id of one in flight: 409 naming the id, the first is answered, no slot leaks, the session expires when idle', async () => {
    const { session, parent, first } = await sessionWithTask(suite.server);
    const lock = await holdTaskLock(suite.project.dir, parent);
    locks.push(lock);
    const firstCall = call(suite.server, session, toolCallMessage(10, 'orchestrator_complete_subtask', { task_id: first, results: 'done' }));
    await sleep(300); // the first call is with the server, waiting for the lock
    const reused = await call(suite.server, session, toolCallMessage(10, 'orchestrator_get_status'));
    assert.equal(reused.status, 409);
    const refusal = await reused.json();
    assert.equal(refusal.error.code, -32600);
    assert.equal(refusal.id, null, 'not passed off as the reply to the first request');
    assert.match(refusal.error.message, /the id 10 is already used by a request of this session that is still being answered\. Give every request a new id/);
    const reusedInBatch = await call(suite.server, session, [toolCallMessage(11, 'orchestrator_get_status'), toolCallMessage(11, 'orchestrator_get_status')]);
    assert.equal(reusedInBatch.status, 409, 'a batch using one id twice too');

    await lock.release();
    const answered = await firstCall;
    assert.equal(answered.status, 200);
    assert.equal((await answered.json()).id, 10, 'the first request got its own reply');

    const both = await call(suite.server, session, [toolCallMessage(12, 'orchestrator_get_status'), toolCallMessage(13, 'orchestrator_get_status')]);
    assert.equal(both.status, 200, 'both slots are free again');
    await both.text();
    let status = 0;
    for (let i = 0; i < 40 && status !== 404; i++) {
      await sleep(100);
      status = (await rawRequest(suite.server.url, { method: 'GET', headers: sessionHeaders(suite.server.token, session) })).status;
    }
    assert.equal(status, 404, 'idle for more than 1 s: the session ended');
  });

  test('a client gone in the middle of a call frees its slot at once, while the call runs to its end', async () => {
    const { session, parent, first } = await sessionWithTask(suite.server);
    const lock = await holdTaskLock(suite.project.dir, parent);
    locks.push(lock);
    const gone = new AbortController();
    const stuck = [20, 21].map((id) => call(suite.server, session, toolCallMessage(id, 'orchestrator_complete_subtask', { task_id: first, results: 'done' }), gone.signal));
    await sleep(300);
    assert.equal((await call(suite.server, session, toolCallMessage(22, 'orchestrator_get_status'))).status, 429, 'both slots are taken');
    gone.abort();
    await Promise.allSettled(stuck);
    await sleep(200);
    const next = await call(suite.server, session, toolCallMessage(23, 'orchestrator_get_status'));
    assert.equal(next.status, 200, 'the calls whose clients left hold no slot, though they still wait for the lock');
    await lock.release();
  });
});

/** What a raw connection sending an endless chunked body got back, and when it was cut. */
interface Flood {
  reply: string;
  sentBytes: number;
  /** From the reply to the connection's end; null: still open when the test gave up. */
  cutAfterMs: number | null;
}

/**
 * Sends headers, then a chunked body of spaces for as long as the server takes it (at most `giveUpMs`).
 * It reads nothing for its first 300 ms, as a client busy sending would: a server that resets the
 * connection right after its reply then makes the reply vanish before it is read.
 */
function floodBody(server: HttpServerProcess, headers: string, giveUpMs: number): Promise<Flood> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(server.url.port), '127.0.0.1');
    const frame = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x20), Buffer.from('\r\n')]);
    let reply = '';
    let sentBytes = 0;
    let repliedAt = 0;
    let open = true;
    const finish = (cut: boolean) => {
      if (!open) return;
      open = false;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, sentBytes, cutAfterMs: cut ? Date.now() - (repliedAt || Date.now()) : null });
    };
    const timer = setTimeout(() => finish(false), giveUpMs);
    const pump = () => {
      while (open && socket.writable) {
        sentBytes += frame.length;
        if (!socket.write(frame)) return void socket.once('drain', pump);
      }
    };
    socket.pause();
    setTimeout(() => socket.resume(), 300);
    socket.on('data', (d: Buffer) => {
      if (!reply) repliedAt = Date.now();
      reply += d.toString();
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\n${headers}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, pump);
  });
}

describe('refusals before the body', () => {
  const suite = serverPerSuite();

  test('an endless body without a token: 401, then the connection is cut, the body never read', async () => {
    const flood = await floodBody(suite.server, '', 6_000);
    assert.match(flood.reply, /^HTTP\/1\.1 401 /);
    assert.match(flood.reply, /\r\nConnection: close\r\n/i);
    assert.notEqual(flood.cutAfterMs, null, `still open after 6 s, ${flood.sentBytes >> 20} MiB sent`);
    // Cut within 2 s of the reply (a server that drains the body keeps it open to the 6 s limit). Not a byte
    // bound: on a quiet machine the client pushes tens of MiB into the kernel's buffers in that time.
    assert.ok(flood.cutAfterMs! < 2_000, `cut ${flood.cutAfterMs} ms after the reply (${flood.sentBytes >> 20} MiB sent)`);
  });

  test('403, 404, 405 and a GET with no session say Connection: close', async () => {
    const auth = { Authorization: `Bearer ${suite.server.token}` };
    const replies = [
      await rawRequest(suite.server.url, { headers: { Host: 'evil.example.com' } }),
      await rawRequest(suite.server.url, { path: '/other', headers: auth }),
      await rawRequest(suite.server.url, { method: 'PUT', headers: auth }),
      await rawRequest(suite.server.url, { method: 'GET', headers: auth }),
    ];
    assert.deepEqual(replies.map((r) => r.status), [403, 404, 405, 400]);
    for (const reply of replies) assert.equal(reply.headers.connection, 'close', String(reply.status));
  });

  test('a client that leaves in the middle of its body: one info line in the log, no error, no stack', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(suite.server.url.port), '127.0.0.1', () => {
        socket.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${suite.server.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"jsonrpc"`);
        setTimeout(() => socket.destroy(), 200);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const log = path.join(suite.project.dir, '.task_orchestrator', 'logs', 'orchestrator.log');
    let lines: string[] = [];
    for (let i = 0; i < 40 && lines.length === 0; i++) {
      await sleep(50);
      lines = (await readFile(log, 'utf8')).split('\n').filter((l) => l.includes('HTTP POST /mcp'));
    }
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, / INFO +\[pid \d+\] HTTP POST \/mcp: the client closed the connection before its request was complete; nothing was done/);
    assert.doesNotMatch(lines[0]!, /stack/);
    assert.doesNotMatch(await readFile(log, 'utf8'), / ERROR /);
  });
});

test('--host [::1], as a URL writes it, listens on ::1', async (t) => {
  const project = await tempProject();
  t.after(() => project.remove());
  const server = await startServer(project.dir, { args: ['--host', '[::1]'] });
  t.after(() => server.kill());
  assert.equal(server.url.hostname, '[::1]');
  const health = await rawRequest(server.url, { method: 'GET', path: '/healthz' });
  assert.equal(health.status, 200);
  await rawSession(server.url, server.token);
});

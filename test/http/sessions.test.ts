import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { samplePlan, tempProject } from '../mcp/harness.js';
import { connectHttp, initializeMessage, rawRequest, rawSession, sessionHeaders, startServer, toolCallMessage, type HttpServerProcess } from './harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sessions', () => {
  let project: Awaited<ReturnType<typeof tempProject>>;
  let server: HttpServerProcess;
  before(async () => {
    project = await tempProject();
    // Short idle expiry and few sessions, so that both limits can be reached quickly.
    server = await startServer(project.dir, { env: { MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS: '2', MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS: '3' } });
  });
  after(async () => {
    await server?.kill();
    await project?.remove();
  });

  test('two HTTP clients are two agents: the second to execute the same subtask gets SUBTASK_CLAIMED', async () => {
    const alice = await connectHttp(server.url, server.token, 'alice');
    const bob = await connectHttp(server.url, server.token, 'bob');
    try {
      const plan = await alice.call('orchestrator_plan_task', samplePlan);
      const first = plan.data.execution_order[0] as string;
      const claimed = await alice.call('orchestrator_execute_subtask', { task_id: first });
      assert.equal(claimed.isError, false, claimed.text);
      const refused = await bob.call('orchestrator_execute_subtask', { task_id: first });
      assert.equal(refused.isError, true, refused.text);
      assert.equal(refused.error?.code, 'SUBTASK_CLAIMED');
      assert.equal(refused.error?.data?.holder, claimed.data.lease.agent_id, 'the refusal names the holder');
      const completedByOther = await bob.call('orchestrator_complete_subtask', { task_id: first, results: 'not mine' });
      assert.equal(completedByOther.error?.code, 'SUBTASK_CLAIMED');
      const renewed = await alice.call('orchestrator_execute_subtask', { task_id: first });
      assert.equal(renewed.isError, false, 'the holder renews its own lease');
      assert.equal((await alice.call('orchestrator_complete_subtask', { task_id: first, results: 'mine' })).isError, false);
    } finally {
      await alice.transport.terminateSession();
      await bob.transport.terminateSession();
      await alice.close();
      await bob.close();
    }
  });

  test('DELETE ends a session: its id gets 404 afterwards, which tells a client to initialize again', async () => {
    const session = await rawSession(server.url, server.token);
    const headers = sessionHeaders(server.token, session);
    const ok = await rawRequest(server.url, { headers, body: JSON.stringify(toolCallMessage(2, 'orchestrator_get_status')) });
    assert.equal(ok.status, 200, ok.body);
    assert.equal((await rawRequest(server.url, { method: 'DELETE', headers })).status, 200);
    const after = await rawRequest(server.url, { headers, body: JSON.stringify(toolCallMessage(3, 'orchestrator_get_status')) });
    assert.equal(after.status, 404);
    assert.match(JSON.parse(after.body).error.message, /^Session not found/);
    assert.equal(JSON.parse(after.body).id, 3);
  });

  test('a session idle longer than MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS is closed; one in use is not', async () => {
    const idle = await rawSession(server.url, server.token);
    const busy = await rawSession(server.url, server.token);
    for (let i = 0; i < 8; i++) {
      await sleep(500); // 4 s in all: twice the idle time
      const kept = await rawRequest(server.url, { headers: sessionHeaders(server.token, busy), body: JSON.stringify(toolCallMessage(10 + i, 'orchestrator_get_status')) });
      assert.equal(kept.status, 200, `the session in use is kept (${i})`);
    }
    const expired = await rawRequest(server.url, { headers: sessionHeaders(server.token, idle), body: JSON.stringify(toolCallMessage(2, 'orchestrator_get_status')) });
    assert.equal(expired.status, 404);
    await rawRequest(server.url, { method: 'DELETE', headers: sessionHeaders(server.token, busy) });
  });

  test('more sessions than MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS: 503 with Retry-After, and the open ones keep working', async () => {
    const open = [await rawSession(server.url, server.token), await rawSession(server.url, server.token), await rawSession(server.url, server.token)];
    const refused = await rawRequest(server.url, { headers: { Authorization: `Bearer ${server.token}` }, body: initializeMessage(7) });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    assert.match(JSON.parse(refused.body).error.message, /Too many sessions open \(at most 3; MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS\)/);
    assert.equal(JSON.parse(refused.body).id, 7);
    await assert.rejects(connectHttp(server.url, server.token), /503|Too many sessions/, 'the official client reports it');
    const still = await rawRequest(server.url, { headers: sessionHeaders(server.token, open[0]!), body: JSON.stringify(toolCallMessage(2, 'orchestrator_get_status')) });
    assert.equal(still.status, 200);
    await rawRequest(server.url, { method: 'DELETE', headers: sessionHeaders(server.token, open[0]!) });
    const again = await rawRequest(server.url, { headers: { Authorization: `Bearer ${server.token}` }, body: initializeMessage() });
    assert.equal(again.status, 200, 'a slot freed by DELETE is taken again');
    for (const id of [...open.slice(1), again.headers['mcp-session-id'] as string]) await rawRequest(server.url, { method: 'DELETE', headers: sessionHeaders(server.token, id) });
  });

  test('requests with no session id, or an unknown one, are refused with 400 and 404', async () => {
    const none = await rawRequest(server.url, { headers: { Authorization: `Bearer ${server.token}` }, body: JSON.stringify(toolCallMessage(1, 'orchestrator_get_status')) });
    assert.equal(none.status, 400);
    assert.match(JSON.parse(none.body).error.message, /no Mcp-Session-Id header/);
    const unknown = await rawRequest(server.url, { headers: sessionHeaders(server.token, 'no-such-session'), body: JSON.stringify(toolCallMessage(1, 'orchestrator_get_status')) });
    assert.equal(unknown.status, 404);
    assert.equal((await rawRequest(server.url, { method: 'GET', headers: { Authorization: `Bearer ${server.token}` } })).status, 400);
    const badJson = await rawRequest(server.url, { headers: { Authorization: `Bearer ${server.token}` }, body: '{"jsonrpc":' });
    assert.equal(badJson.status, 400);
    assert.equal(JSON.parse(badJson.body).error.code, -32700);
  });
});

describe('limits on a request', () => {
  let project: Awaited<ReturnType<typeof tempProject>>;
  let server: HttpServerProcess;
  before(async () => {
    project = await tempProject();
    server = await startServer(project.dir, { env: { MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES: '4096', MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION: '2' } });
  });
  after(async () => {
    await server?.kill();
    await project?.remove();
  });

  test('a body over MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES: 413, nothing stored, and the server goes on', async () => {
    const session = await rawSession(server.url, server.token);
    const headers = sessionHeaders(server.token, session);
    const big = { ...samplePlan, context: 'x'.repeat(5_000) };
    const declared = await rawRequest(server.url, { headers, body: JSON.stringify(toolCallMessage(2, 'orchestrator_plan_task', big)) });
    assert.equal(declared.status, 413);
    assert.match(JSON.parse(declared.body).error.message, /^Request body too large: at most 4096 bytes \(MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES\)/);
    // Sent in chunks with no declared length: refused once it grows past the bound.
    const chunked = await fetch(server.url, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: streamOf(JSON.stringify(toolCallMessage(3, 'orchestrator_plan_task', big))), duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 413);

    const mcp = await connectHttp(server.url, server.token);
    await assert.rejects(mcp.call('orchestrator_plan_task', big), /413|too large/i, 'the official client reports it');
    const status = await mcp.call('orchestrator_get_status');
    assert.equal(status.isError, false, 'the server still serves');
    assert.equal(status.data.counts.total, 0, 'no task was stored');
    await mcp.close();
  });

  test('more calls in flight in one session than MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION: 429, the others are served', async () => {
    const session = await rawSession(server.url, server.token);
    const headers = sessionHeaders(server.token, session);
    const batch = [1, 2, 3].map((id) => toolCallMessage(id, 'orchestrator_get_status'));
    const refused = await rawRequest(server.url, { headers, body: JSON.stringify(batch) });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(JSON.parse(refused.body).error.message, /^Too many calls in flight in this session \(at most 2; MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION\)/);
    const two = await rawRequest(server.url, { headers, body: JSON.stringify(batch.slice(0, 2)) });
    assert.equal(two.status, 200, two.body);
    assert.equal(JSON.parse(two.body).length, 2);
  });
});

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 1000));
      offset += 1000;
    },
  });
}

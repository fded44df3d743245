/** The dashboard over HTTP: login and its cookie, 401 without it, the Host/Origin checks, CSRF, the actions and their history. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_EVENT_CLIENTS } from '../../src/mcp/http/dashboard.js';
import { connectHttp, rawRequest, startServer, type HttpServerProcess } from '../http/harness.js';
import { samplePlan, tempProject, type Connection } from '../mcp/harness.js';

let project: { dir: string; remove(): Promise<void> };
let server: HttpServerProcess;
let mcp: Connection;
let parentId: string;
let firstSubtask: string;

before(async () => {
  project = await tempProject();
  server = await startServer(project.dir, { env: { MCP_TASK_ORCHESTRATOR_LEASE_SECONDS: '1' } });
  mcp = await connectHttp(server.url, server.token);
  const plan = await mcp.call('orchestrator_plan_task', { ...samplePlan, description: 'Secret project Zebra' });
  assert.equal(plan.isError, false, plan.text);
  parentId = plan.data.parent_task_id;
  firstSubtask = plan.data.execution_order[0];
});
after(async () => {
  await mcp?.close();
  await server?.kill();
  await project?.remove();
});

const get = (p: string, headers: Record<string, string> = {}) => rawRequest(server.url, { method: 'GET', path: p, headers });
const origin = () => `http://127.0.0.1:${server.url.port}`;

async function login(): Promise<string> {
  const reply = await get(`/?token=${encodeURIComponent(server.token)}`);
  const cookie = String(reply.headers['set-cookie']).split(';')[0]!;
  return cookie;
}

describe('dashboard login', () => {
  it('serves the page without any task data, and the API answers 401 without a session', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<form method="post" action="\/dashboard\/login">/);
    assert.doesNotMatch(page.body, /Zebra/);
    const api = await get('/dashboard/api/parents');
    assert.equal(api.status, 401);
    assert.doesNotMatch(api.body, /Zebra/);
    const forged = await get('/dashboard/api/parents', { Cookie: 'to_dashboard=forged' });
    assert.equal(forged.status, 401, 'a made-up session id is refused');
  });

  it('swaps a right token in the link for an HttpOnly, SameSite=Strict cookie and a redirect to /', async () => {
    const reply = await get(`/?token=${encodeURIComponent(server.token)}`);
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/', 'the token leaves the address bar');
    const cookie = String(reply.headers['set-cookie']);
    assert.match(cookie, /^to_dashboard=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    assert.ok(!cookie.includes(server.token), 'the cookie is not the token');
    const api = await get('/dashboard/api/parents', { Cookie: cookie.split(';')[0]! });
    assert.equal(api.status, 200, api.body);
    assert.equal(JSON.parse(api.body).parents[0].title, 'Secret project Zebra');
  });

  it('refuses a wrong token: no cookie, back to the form saying so', async () => {
    const reply = await get('/?token=wrong-token');
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/#login-failed');
    assert.equal(reply.headers['set-cookie'], undefined);
  });

  it('logs in by the form only from the page (Origin present and allowed)', async () => {
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const body = `token=${encodeURIComponent(server.token)}`;
    const withoutOrigin = await rawRequest(server.url, { path: '/dashboard/login', headers: form, body });
    assert.equal(withoutOrigin.status, 403);
    const foreign = await rawRequest(server.url, { path: '/dashboard/login', headers: { ...form, Origin: 'http://evil.example' }, body });
    assert.equal(foreign.status, 403);
    const ok = await rawRequest(server.url, { path: '/dashboard/login', headers: { ...form, Origin: origin() }, body });
    assert.equal(ok.status, 303);
    assert.match(String(ok.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
  });

  it('applies the Host check of /mcp (DNS rebinding)', async () => {
    const cookie = await login();
    const rebound = await get('/dashboard/api/parents', { Cookie: cookie, Host: `attacker.example:${server.url.port}` });
    assert.equal(rebound.status, 403);
    const page = await get('/', { Host: `attacker.example:${server.url.port}` });
    assert.equal(page.status, 403);
  });

  it('never writes the token to the log, even from a login link', async () => {
    await get(`/?token=${encodeURIComponent(server.token)}`);
    await get(`/?token=${encodeURIComponent(server.token)}x`);
    const logs = path.join(project.dir, '.task_orchestrator', 'logs');
    for (const name of await readdir(logs)) assert.ok(!(await readFile(path.join(logs, name), 'utf8')).includes(server.token), `${name} holds no token`);
    assert.ok(!server.stderr().includes(server.token));
  });
});

describe('dashboard actions', () => {
  it('refuses an action without Origin (CSRF) or from another origin, even with the cookie', async () => {
    const cookie = await login();
    const body = JSON.stringify({ parent_task_id: parentId });
    const bare = await rawRequest(server.url, { path: '/dashboard/api/actions/archive', headers: { Cookie: cookie }, body });
    assert.equal(bare.status, 403);
    const foreign = await rawRequest(server.url, { path: '/dashboard/api/actions/archive', headers: { Cookie: cookie, Origin: 'http://evil.example' }, body });
    assert.equal(foreign.status, 403);
  });

  it('releases an expired lease and records it in history as dashboard:<session>', async () => {
    const cookie = await login();
    const started = await mcp.call('orchestrator_execute_subtask', { task_id: firstSubtask });
    assert.equal(started.isError, false, started.text);
    const headers = { Cookie: cookie, Origin: origin() };
    const target = JSON.stringify({ parent_task_id: parentId, task_id: started.data.task_id });
    const early = await rawRequest(server.url, { path: '/dashboard/api/actions/release', headers, body: target });
    assert.equal(early.status, 409, 'a live lease is not released');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const released = await rawRequest(server.url, { path: '/dashboard/api/actions/release', headers, body: target });
    assert.equal(released.status, 200, released.body);
    const session = JSON.parse((await get('/dashboard/api/session', { Cookie: cookie })).body).session;
    const history = await mcp.call('orchestrator_get_history', { task_id: parentId });
    const last = history.data.events.at(-1);
    assert.deepEqual([last.from, last.to, last.agent], ['active', 'pending', `dashboard:${session}`]);
    const status = await mcp.call('orchestrator_get_status', { parent_task_id: parentId });
    assert.equal(status.data.tasks.find((t: { task_id: string }) => t.task_id === started.data.task_id).status, 'pending');
  });

  it('refuses to archive a task that is not finished, and changes nothing', async () => {
    const cookie = await login();
    const reply = await rawRequest(server.url, { path: '/dashboard/api/actions/archive', headers: { Cookie: cookie, Origin: origin() }, body: JSON.stringify({ parent_task_id: parentId }) });
    assert.equal(reply.status, 409);
    assert.match(JSON.parse(reply.body).message, /not completed/);
  });
});

describe('dashboard events', () => {
  it('streams "changed" with the parent id after a change through MCP, and bounds the number of listeners', async () => {
    const cookie = await login();
    const open = (onData?: (text: string) => void) =>
      new Promise<{ status: number; close(): void }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.url.port, path: '/dashboard/api/events', headers: { Cookie: cookie } }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (text: string) => onData?.(text));
          resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
        });
        req.on('error', reject);
        req.end();
      });
    let received = '';
    const first = await open((text) => (received += text));
    const others = [];
    try {
      assert.equal(first.status, 200);
      for (let i = 1; i < MAX_EVENT_CLIENTS; i++) others.push(await open());
      const refused = await open();
      assert.equal(refused.status, 503, 'one more than the bound is refused');
      refused.close();
      await new Promise((resolve) => setTimeout(resolve, 300)); // the baseline is taken
      const note = await mcp.call('orchestrator_execute_subtask', { task_id: firstSubtask });
      assert.equal(note.isError, false, note.text);
      const deadline = Date.now() + 2000;
      while (!received.includes('event: changed') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(received, new RegExp(`event: changed\ndata: \\{"parent_task_ids":\\["${parentId}"\\]`));
    } finally {
      first.close();
      for (const other of others) other.close();
    }
  });
});

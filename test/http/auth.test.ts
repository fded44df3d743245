import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { connectHttp, initializeMessage, rawRequest, serverPerSuite } from './harness.js';

describe('a server with a generated token', () => {
  const suite = serverPerSuite();

  test('the token is generated into .task_orchestrator/http-token, mode 0600, and only its path is printed', async () => {
    const file = path.join(suite.project.dir, '.task_orchestrator', 'http-token');
    assert.equal(suite.server.tokenFile, file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(suite.server.token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    assert.ok(!suite.server.stderr().includes(suite.server.token), 'stderr never shows the token');
    assert.equal(suite.server.stdout(), '');
    const log = await readFile(path.join(suite.project.dir, '.task_orchestrator', 'logs', 'orchestrator.log'), 'utf8');
    assert.ok(!log.includes(suite.server.token), 'nor does the log');
    assert.match(await readFile(path.join(suite.project.dir, '.task_orchestrator', '.gitignore'), 'utf8'), /^http-token$/m, 'git is told to leave it out');
    assert.ok(!(await readdir(path.join(suite.project.dir, '.task_orchestrator'))).some((n) => n.endsWith('.tmp')), 'no temp file left');
  });

  test('no token: 401 with a Bearer challenge, before any MCP handling', async () => {
    const reply = await fetch(suite.server.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: initializeMessage() });
    assert.equal(reply.status, 401);
    assert.equal(reply.headers.get('www-authenticate'), 'Bearer realm="task-orchestrator"');
    assert.equal(reply.headers.get('mcp-session-id'), null, 'no session was opened');
    assert.match((await reply.json()).error.message, /^Unauthorized: send "Authorization: Bearer <token>"/);
  });

  test('a wrong token, one differing only in its last character, a token of another scheme: 401 invalid_token', async () => {
    const last = suite.server.token.at(-1) === 'A' ? 'B' : 'A';
    for (const authorization of [`Bearer ${suite.server.token.slice(0, -1)}${last}`, `Bearer ${suite.server.token}x`, 'Bearer wrong', `Basic ${suite.server.token}`, `Bearer`]) {
      const reply = await fetch(suite.server.url, { method: 'POST', headers: { Authorization: authorization, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: initializeMessage() });
      assert.equal(reply.status, 401, authorization);
      assert.equal(reply.headers.get('www-authenticate'), 'Bearer realm="task-orchestrator", error="invalid_token"');
    }
  });

  test('the right token opens a session; the scheme is case-insensitive', async () => {
    const reply = await fetch(suite.server.url, { method: 'POST', headers: { Authorization: `bearer ${suite.server.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: initializeMessage() });
    assert.equal(reply.status, 200, await reply.clone().text());
    assert.ok(reply.headers.get('mcp-session-id'));
  });

  test('the official client without the token is refused; with it, it works', async () => {
    await assert.rejects(connectHttp(suite.server.url, 'not-the-token'), /401|Unauthorized/);
    const mcp = await connectHttp(suite.server.url, suite.server.token);
    assert.equal((await mcp.call('orchestrator_get_status')).isError, false);
    await mcp.close();
  });

  test('a Host that is not this server (DNS rebinding): 403, even with the right token', async () => {
    for (const host of ['evil.example', `evil.example:${suite.server.url.port}`, 'localhost.evil.example']) {
      const reply = await rawRequest(suite.server.url, { headers: { Host: host, Authorization: `Bearer ${suite.server.token}` }, body: initializeMessage() });
      assert.equal(reply.status, 403, host);
      assert.match(JSON.parse(reply.body).error.message, /Invalid Host/);
      assert.equal(reply.headers['mcp-session-id'], undefined);
    }
    // The port is not checked: DNS rebinding is about the name (a page's own name pointed at 127.0.0.1), and a
    // local proxy in front of the server (npm run conformance's) passes on a Host naming its own port.
    for (const host of [`localhost:${suite.server.url.port}`, `127.0.0.1:${suite.server.url.port}`, 'localhost:1', 'localhost']) {
      const reply = await rawRequest(suite.server.url, { headers: { Host: host, Authorization: `Bearer ${suite.server.token}` }, body: initializeMessage() });
      assert.equal(reply.status, 200, host);
    }
  });

  test('an Origin that is not this server: 403 (before the token is even looked at); a localhost Origin passes', async () => {
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1.evil.example']) {
      const reply = await rawRequest(suite.server.url, { headers: { Origin: origin, Authorization: `Bearer ${suite.server.token}` }, body: initializeMessage() });
      assert.equal(reply.status, 403, origin);
      const anonymous = await rawRequest(suite.server.url, { headers: { Origin: origin }, body: initializeMessage() });
      assert.equal(anonymous.status, 403, `${origin} without a token`);
    }
    const local = await rawRequest(suite.server.url, { headers: { Origin: 'http://localhost:5173', Authorization: `Bearer ${suite.server.token}` }, body: initializeMessage() });
    assert.equal(local.status, 200);
    assert.equal(local.headers['access-control-allow-origin'], 'http://localhost:5173');
  });

  test('GET /healthz answers without a token and says nothing but that it runs', async () => {
    const reply = await fetch(new URL('/healthz', suite.server.url));
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), { status: 'ok' });
  });

  test('other paths and methods: 404 and 405, behind the token', async () => {
    const auth = { Authorization: `Bearer ${suite.server.token}` };
    assert.equal((await rawRequest(suite.server.url, { path: '/other', headers: auth })).status, 404);
    assert.equal((await rawRequest(suite.server.url, { path: '/other' })).status, 401, 'without the token not even 404');
    const put = await rawRequest(suite.server.url, { method: 'PUT', headers: auth });
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, POST, DELETE, OPTIONS');
  });
});

describe('a server with the token from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN and an allowed origin', () => {
  const token = 'env-token-0123456789-abcdefghijklmnopqrstuvwxyz';
  const suite = serverPerSuite({ env: { MCP_TASK_ORCHESTRATOR_HTTP_TOKEN: token }, args: ['--allowed-origin', 'https://tasks.example.com'] });

  test('the variable is named, not shown, and no token file is written', async () => {
    assert.match(suite.server.stderr(), /^task-orchestrator: bearer token from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN$/m);
    assert.equal(suite.server.tokenFile, null);
    assert.ok(!suite.server.stderr().includes(token));
    await assert.rejects(stat(path.join(suite.project.dir, '.task_orchestrator', 'http-token')), /ENOENT/);
    const mcp = await connectHttp(suite.server.url, token);
    assert.equal((await mcp.call('orchestrator_get_status')).isError, false);
    await mcp.close();
  });

  test('--allowed-origin admits that name as Host (a reverse proxy) and as Origin (a browser client), with CORS headers', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const proxied = await rawRequest(suite.server.url, { headers: { ...auth, Host: 'tasks.example.com' }, body: initializeMessage() });
    assert.equal(proxied.status, 200, proxied.body);
    const browser = await rawRequest(suite.server.url, { headers: { ...auth, Origin: 'https://tasks.example.com' }, body: initializeMessage() });
    assert.equal(browser.status, 200);
    assert.equal(browser.headers['access-control-allow-origin'], 'https://tasks.example.com');
    assert.match(String(browser.headers['access-control-expose-headers']), /Mcp-Session-Id/);
    const preflight = await rawRequest(suite.server.url, { method: 'OPTIONS', headers: { Origin: 'https://tasks.example.com', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 204, 'a preflight carries no token');
    assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
    assert.equal((await rawRequest(suite.server.url, { headers: { ...auth, Origin: 'https://other.example.com' }, body: initializeMessage() })).status, 403);
  });
});

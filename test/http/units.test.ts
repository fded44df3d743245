import assert from 'node:assert/strict';
import { chmod, lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HTTP_IDLE_SECONDS_BOUNDS, InvalidSettingError, readHttpSettings } from '../../src/config.js';
import { isLoopback } from '../../src/mcp/http/endpoint.js';
import { allowedOriginHostname, originPolicy } from '../../src/mcp/http/request-checks.js';
import { bearerMatches, resolveToken, TokenFileError } from '../../src/mcp/http/token.js';

describe('readHttpSettings', () => {
  test('defaults', () => {
    assert.deepEqual(readHttpSettings({}), { token: null, idleMs: HTTP_IDLE_SECONDS_BOUNDS.default * 1000, maxBodyBytes: 10 * 1024 * 1024, maxSessions: 100, maxCallsPerSession: 8 });
  });

  test('values within bounds are taken', () => {
    const settings = readHttpSettings({ MCP_TASK_ORCHESTRATOR_HTTP_TOKEN: 'abc', MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS: '60', MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES: ' 2048 ', MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS: '1', MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION: '1000' });
    assert.deepEqual(settings, { token: 'abc', idleMs: 60_000, maxBodyBytes: 2048, maxSessions: 1, maxCallsPerSession: 1000 });
  });

  test('every invalid value is refused in one message naming its variable; the token\'s value is never shown', () => {
    const env = { MCP_TASK_ORCHESTRATOR_HTTP_TOKEN: 'has a space', MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS: '0', MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES: '1k', MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS: '10001', MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION: '-1' };
    assert.throws(
      () => readHttpSettings(env),
      (error: Error) => {
        assert.ok(error instanceof InvalidSettingError);
        for (const name of Object.keys(env)) assert.ok(error.message.includes(name), name);
        assert.ok(!error.message.includes('has a space'));
        return true;
      },
    );
  });
});

describe('bearerMatches', () => {
  const token = 'secret-token-0123456789';
  test('only the exact token, after "Bearer" in any case', () => {
    assert.equal(bearerMatches(`Bearer ${token}`, token), true);
    assert.equal(bearerMatches(`BEARER  ${token}`, token), true);
    for (const header of [undefined, '', token, `Bearer ${token}0`, `Bearer ${token.slice(0, -1)}`, `Bearer ${token.toUpperCase()}`, `Basic ${token}`, `Bearer ${token} extra`]) {
      assert.equal(bearerMatches(header, token), false, String(header));
    }
  });
});

describe('Host and Origin', () => {
  test('loopback addresses', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) assert.equal(isLoopback(host), true, host);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '128.0.0.1']) assert.equal(isLoopback(host), false, host);
  });

  test('--allowed-origin values name a host', () => {
    assert.equal(allowedOriginHostname('https://Tasks.Example.com'), 'tasks.example.com');
    assert.equal(allowedOriginHostname('tasks.example.com:8443'), 'tasks.example.com');
    assert.equal(allowedOriginHostname('http://[::1]:3000'), '[::1]');
    assert.equal(allowedOriginHostname('moz-extension://*'), 'moz-extension://*');
    for (const value of ['https://', 'https://x.example/path', 'http://*', '', 'a b']) assert.equal(allowedOriginHostname(value), null, value);
  });

  test('the policy: localhost names, the bound address, the allowed origins', () => {
    const policy = originPolicy('192.0.2.7', ['https://tasks.example.com']);
    for (const name of ['localhost', '127.0.0.1', '[::1]', '192.0.2.7', 'tasks.example.com']) {
      assert.ok(policy.hostnames.includes(name), name);
      assert.ok(policy.originHostnames.includes(name), name);
    }
    assert.ok(!policy.hostnames.includes('example.com'));
    const wildcard = originPolicy('0.0.0.0', []);
    assert.ok(wildcard.hostnames.includes('127.0.0.1') && wildcard.hostnames.includes(os.hostname().toLowerCase()), 'every address of the machine, and its name');
  });
});

describe('resolveToken', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-token-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const file = () => path.join(root, 'http-token');

  test('the environment wins, and nothing is written', async () => {
    assert.deepEqual(await resolveToken('from-env', root), { token: 'from-env', source: { kind: 'environment' } });
    await assert.rejects(lstat(file()), /ENOENT/);
  });

  test('generated once, 0600, then read back; concurrent starts agree', async () => {
    const [a, b] = await Promise.all([resolveToken(null, root), resolveToken(null, root)]);
    assert.equal(a.token, b.token);
    assert.equal((await lstat(file())).mode & 0o777, 0o600);
    assert.equal((await readFile(file(), 'utf8')).trim(), a.token);
    const again = await resolveToken(null, root);
    assert.deepEqual(again, { token: a.token, source: { kind: 'file', file: file(), created: false } });
  });

  test('a file others can read, a link, or one not holding a token is refused', async () => {
    await chmod(file(), 0o640);
    await assert.rejects(resolveToken(null, root), (e: Error) => e instanceof TokenFileError && /mode 640/.test(e.message));
    await chmod(file(), 0o600);
    await writeFile(file(), 'two words\n');
    await assert.rejects(resolveToken(null, root), /does not hold one token/);
    await rm(file());
    await writeFile(path.join(root, 'elsewhere'), 'linked-token\n', { mode: 0o600 });
    await symlink(path.join(root, 'elsewhere'), file());
    await assert.rejects(resolveToken(null, root), /is a symbolic link/);
  });
});

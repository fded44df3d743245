import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempProject } from '../mcp/harness.js';
import { connectHttp, spawnServer, startServer, type HttpServerProcess } from './harness.js';

/** A server that must refuse to start: its exit code and stderr, within 10 s. */
async function refusal(cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const spawned = spawnServer(cwd, args, env);
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), 10_000);
  const { code } = await spawned.exited;
  clearTimeout(timer);
  return { code, stderr: spawned.stderr(), stdout: spawned.stdout() };
}

describe('serve --http refuses to start, saying why', () => {
  let project: Awaited<ReturnType<typeof tempProject>>;
  let running: HttpServerProcess;
  before(async () => {
    project = await tempProject();
    running = await startServer(project.dir);
  });
  after(async () => {
    await running?.kill();
    await project?.remove();
  });

  test('a port in use: exit 1, naming the address and what to do; nothing on stdout', async () => {
    const other = await tempProject();
    try {
      const { code, stderr, stdout } = await refusal(other.dir, ['--port', running.url.port]);
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${running.url.port}: the port is already in use \\(another server\\?\\)\\. Pass --port with a free port, or --port 0 for any free one\\.$`, 'm'));
      assert.doesNotMatch(stderr, /serving MCP over HTTP/);
      assert.equal(stdout, '');
    } finally {
      await other.remove();
    }
  });

  test('a non-loopback --host with a token shorter than 32 characters: exit 2, naming the variable, not the token', async () => {
    const { code, stderr } = await refusal(project.dir, ['--host', '0.0.0.0', '--port', '0'], { MCP_TASK_ORCHESTRATOR_HTTP_TOKEN: 'short-secret-123' });
    assert.equal(code, 2);
    assert.match(stderr, /--host 0\.0\.0\.0 lets other machines connect, and the token from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN has 16 characters: at least 32 are needed there/);
    assert.ok(!stderr.includes('short-secret-123'));
    assert.doesNotMatch(stderr, /serving MCP over HTTP/, 'it never listened');
  });

  test('a non-loopback --host with a short token in the token file: exit 2', async () => {
    const other = await tempProject();
    try {
      const file = path.join(other.dir, '.task_orchestrator', 'http-token');
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'tiny-token\n', { mode: 0o600 });
      const { code, stderr } = await refusal(other.dir, ['--host', '0.0.0.0', '--port', '0']);
      assert.equal(code, 2);
      assert.match(stderr, /the token from the token file .*http-token has 10 characters: at least 32/);
    } finally {
      await other.remove();
    }
  });

  test('a token file others can read (as a checkout makes it): exit 1, saying how to fix it', async () => {
    const other = await tempProject();
    try {
      const file = path.join(other.dir, '.task_orchestrator', 'http-token');
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'a-token-committed-to-a-repository-by-mistake\n');
      await chmod(file, 0o644);
      const { code, stderr } = await refusal(other.dir, ['--port', '0']);
      assert.equal(code, 1);
      assert.match(stderr, /can be read by other users \(mode 644\)\. Run "chmod 600 .*http-token" if you made it yourself; if it came from a repository or a copy, others know it: delete it/);
      assert.ok(!stderr.includes('a-token-committed'), 'the token is not shown');
    } finally {
      await other.remove();
    }
  });

  test('invalid settings and options: exit 2 naming each', async () => {
    const settings = await refusal(project.dir, ['--port', '0'], { MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS: '0', MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS: 'soon' });
    assert.equal(settings.code, 2);
    assert.match(settings.stderr, /MCP_TASK_ORCHESTRATOR_HTTP_IDLE_SECONDS is "soon": use a whole number of seconds from 1/);
    assert.match(settings.stderr, /MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS is "0": use a whole number of sessions from 1 to 10000, or leave it unset for 100\./);
    const port = await refusal(project.dir, ['--port', 'eighty']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /--port must be a whole number from 0 to 65535/);
    const origin = await refusal(project.dir, ['--port', '0', '--allowed-origin', 'https://']);
    assert.equal(origin.code, 2);
    assert.match(origin.stderr, /--allowed-origin "https:\/\/" names no host/);
    const folder = await refusal(project.dir, ['--port', '0', '--base-dir', path.join(project.dir, 'missing')]);
    assert.equal(folder.code, 2);
    assert.match(folder.stderr, /cannot be used: it does not exist/);
  });
});

test('--port, --host and --allowed-origin without --http are refused, not ignored', async () => {
  const project = await tempProject();
  try {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../mcp/harness.js');
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '9000'], { cwd: project.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /--port applies only to the server over HTTP: add --http/);
  } finally {
    await project.remove();
  }
});

test('two servers starting at once in a new project agree on one generated token', async () => {
  const project = await tempProject();
  try {
    const [a, b] = await Promise.all([startServer(project.dir), startServer(project.dir)]);
    try {
      const token = (await readFile(path.join(project.dir, '.task_orchestrator', 'http-token'), 'utf8')).trim();
      assert.equal(a.token, token);
      assert.equal(b.token, token);
      assert.equal([a, b].filter((s) => /\(generated now\)/.test(s.stderr())).length, 1, 'one generated it, the other read it');
      for (const server of [a, b]) {
        const mcp = await connectHttp(server.url, token);
        assert.equal((await mcp.call('orchestrator_get_status')).isError, false, 'both accept the file\'s token');
        await mcp.close();
      }
    } finally {
      await a.kill();
      await b.kill();
    }
  } finally {
    await project.remove();
  }
});

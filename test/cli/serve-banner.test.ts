import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { serveBanner } from '../../src/cli/serve-banner.js';
import { CLI, removeDir, tempDir } from './helpers.js';

test('serveBanner: for a person at a terminal, what this is and the commands to connect a client or see it work', () => {
  const banner = serveBanner(true) ?? '';
  assert.match(banner, /An MCP client starts this; it speaks JSON-RPC on stdin\/stdout/);
  assert.match(banner, /task-orchestrator setup <client> {3}\(claude-code, claude-desktop, cursor, vscode, windsurf, cline\)/);
  assert.match(banner, /task-orchestrator demo/);
  assert.equal(serveBanner(false), null, 'a client (stdin a pipe) gets no banner');
});

/** Runs `serve` with a pseudo-terminal for stdin and stdout (util-linux `script`), stderr to a file; Ctrl-D ends it. */
async function serveOnTerminal(cwd: string): Promise<{ stdout: string; stderr: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const errFile = path.join(cwd, 'stderr.txt');
  const command = `exec ${quote(process.execPath)} ${quote(CLI)} serve 2>${quote(errFile)}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stderr = () => readFile(errFile, 'utf8').catch(() => '');
  try {
    const deadline = Date.now() + 20_000;
    while (!(await stderr()).includes('serving on stdio')) {
      assert.ok(Date.now() < deadline, `serve did not start; stderr: ${await stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.stdin.write('\u0004'); // Ctrl-D: end of input on the terminal, so the server shuts down
    await exited;
    return { stdout, stderr: await stderr() };
  } finally {
    child.kill('SIGKILL');
  }
}

const hasScript = spawnSync('script', ['--version']).status === 0;

test('serve started at a terminal prints the banner on stderr, never on stdout, and keeps serving', { skip: !hasScript && 'util-linux script is not installed' }, async () => {
  const dir = await tempDir();
  try {
    const { stdout, stderr } = await serveOnTerminal(dir);
    assert.match(stderr, /An MCP client starts this/);
    assert.match(stderr, /task-orchestrator demo/);
    assert.ok(stderr.indexOf('task-orchestrator demo') < stderr.indexOf('serving on stdio'), 'the banner comes first');
    assert.match(stderr, /Shutting down: stdin ended/);
    assert.doesNotMatch(stdout, /MCP client|task-orchestrator/);
  } finally {
    await removeDir(dir);
  }
});

test('serve started by a client (stdin a pipe) prints no banner', async () => {
  const dir = await tempDir();
  try {
    const child = spawn(process.execPath, [CLI, 'serve'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('serving on stdio') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    child.stdin.end();
    await new Promise((resolve) => child.on('exit', resolve));
    assert.match(stderr, /serving on stdio/);
    assert.doesNotMatch(stderr, /MCP client starts this/);
  } finally {
    await removeDir(dir);
  }
});

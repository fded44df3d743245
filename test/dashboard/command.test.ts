/** `task-orchestrator dashboard`: reuses a server answering on the port, else starts one; prints where the token is, never the token. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, it } from 'node:test';
import { promisify } from 'node:util';
import { cleanEnv, startServer } from '../http/harness.js';
import { CLI, tempProject } from '../mcp/harness.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

it('prints the address of the server already answering on the port, and where its token is', async () => {
  const project = await tempProject();
  cleanups.push(project.remove);
  const server = await startServer(project.dir);
  cleanups.push(server.kill);
  const { stderr, stdout } = await run(process.execPath, [CLI, 'dashboard', '--port', server.url.port], { cwd: project.dir, env: cleanEnv(), timeout: 10_000 });
  assert.equal(stdout, '');
  assert.match(stderr, /already answers/);
  assert.ok(stderr.includes(`dashboard at http://127.0.0.1:${server.url.port}/`), stderr);
  assert.ok(stderr.includes(path.join(project.dir, '.task_orchestrator', 'http-token')), stderr);
  assert.ok(!stderr.includes(server.token), 'never the token');
});

it('starts the server when none answers, and prints the dashboard address', async () => {
  const project = await tempProject();
  cleanups.push(project.remove);
  const child = spawn(process.execPath, [CLI, 'dashboard', '--port', '0'], { cwd: project.dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('close', resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const deadline = Date.now() + 10_000;
  while (!/dashboard at (\S+)/.test(stderr) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const address = /dashboard at (\S+)/.exec(stderr)?.[1];
  assert.ok(address, stderr);
  const page = await fetch(address);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /task-orchestrator dashboard/);
  const token = (await readFile(path.join(project.dir, '.task_orchestrator', 'http-token'), 'utf8')).trim();
  assert.ok(!stderr.includes(token), 'never the token');
});

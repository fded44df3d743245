/**
 * The published package, as a user gets it: `npm pack` of this folder, installed into an empty prefix
 * with `npm install -g --prefix`, and both installed commands started as an MCP client starts them.
 * Uses the dist/ that `npm test` has just built (`--ignore-scripts`, so `prepare` does not build again).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const MANIFEST = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const TOOLS = ['orchestrator_complete_subtask', 'orchestrator_execute_subtask', 'orchestrator_get_history', 'orchestrator_get_status', 'orchestrator_initialize_session', 'orchestrator_maintenance', 'orchestrator_plan_task', 'orchestrator_synthesize_results'];

/** npm itself: the one running `npm test` when there is one (npm_execpath), else the one on PATH. */
function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const cli = process.env.npm_execpath;
  const options = { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 };
  return cli && cli.endsWith('.js') ? run(process.execPath, [cli, ...args], options) : run('npm', args, { ...options, shell: process.platform === 'win32' });
}

/** close() ends the server; this makes sure, without failing when it is already gone. */
function killIfRunning(pid: number | null | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

let work: string;
let prefix: string;
let project: string;
let tarball: string;
let files: string[];
const timings: string[] = [];

async function timed<T>(what: string, step: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await step();
  timings.push(`${what} ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return result;
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-package-'));
  prefix = path.join(work, 'prefix');
  project = await mkdtemp(path.join(work, 'project-'));
  const packed = await timed('pack', () => npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT));
  const [report] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, report!.filename);
  files = report!.files.map((f) => f.path);
  await timed('install', () => npm(['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], work));
});

after(async () => {
  console.error(`package test: ${timings.join(', ')}`);
  await rm(work, { recursive: true, force: true });
});

describe('the packed and installed package', () => {
  test('the tarball holds the built program and its documents, and no tests, sources or source maps', () => {
    assert.equal(path.basename(tarball), `${MANIFEST.name}-${MANIFEST.version}.tgz`);
    for (const needed of ['package.json', 'README.md', 'dist/cli/main.js', 'dist/mcp/server.js', 'docs/cli.md', 'dist/mcp/http/dashboard-assets/index.html', 'dist/mcp/http/dashboard-assets/app.js', 'dist/mcp/http/dashboard-assets/style.css']) assert.ok(files.includes(needed), `${needed} is packed`);
    const stray = files.filter((f) => !/^(dist\/.*\.js|dist\/mcp\/http\/dashboard-assets\/(index\.html|style\.css)|docs\/[^/]+\.md|README\.md|LICENSE|package\.json)$/.test(f));
    assert.deepEqual(stray, [], 'nothing but dist/*.js, docs, README, LICENSE and package.json');
  });

  for (const bin of ['mcp-task-orchestrator', 'task-orchestrator']) {
    test(`the installed "${bin} serve" lists the tools to an MCP client`, { skip: process.platform === 'win32' && 'npm writes .cmd launchers on Windows' }, async () => {
      const command = path.join(prefix, 'bin', bin);
      await access(command, constants.X_OK);
      const transport = new StdioClientTransport({ command, args: ['serve'], cwd: project, env: { PATH: process.env.PATH ?? '' }, stderr: 'pipe' });
      let stderr = '';
      transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const client = new Client({ name: 'package-test', version: '1.0.0' });
      try {
        await timed(`${bin} start`, () => client.connect(transport));
        assert.equal(client.getServerVersion()?.name, 'task-orchestrator', 'the name clients know the server by');
        assert.equal(client.getServerVersion()?.version, MANIFEST.version);
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
        const status = (await client.callTool({ name: 'orchestrator_get_status', arguments: {} })) as { isError?: boolean };
        assert.notEqual(status.isError, true, 'a tool call works with the installed dependencies');
        assert.match(stderr, /serving on stdio/);
      } finally {
        await client.close();
        killIfRunning(transport.pid);
      }
    });
  }
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { INSTALL_DIR } from '../../src/config.js';
import { readOnlyView } from '../mcp/harness.js';
import { CLI, removeDir, runCli, seedProject, tempDir } from './helpers.js';

const ROOT = path.parse(process.cwd()).root;
const ROOT_STORE = path.join(ROOT, '.task_orchestrator');

let scratch: string;
let rootStoreExisted: boolean;
before(async () => {
  scratch = await tempDir();
  rootStoreExisted = existsSync(ROOT_STORE);
});
after(async () => {
  await removeDir(scratch);
  // Only a regression would create it; then it is ours to remove, and the test below has failed.
  if (!rootStoreExisted && existsSync(ROOT_STORE)) await rm(ROOT_STORE, { recursive: true, force: true });
});

/** Every command that works on a project folder, with what else it needs on its command line. */
const PROJECT_COMMANDS: string[][] = [['status'], ['show', 'task_0123456789'], ['doctor'], ['roles'], ['archive'], ['migrate'], ['migrate', '--from-python', '.'], ['setup', 'claude-code']];

describe('folders that cannot be a project are usage errors (exit 2), and nothing is created', () => {
  for (const args of PROJECT_COMMANDS) {
    test(`${args.join(' ')} --base-dir /`, async () => {
      const { code, stderr } = await runCli([...args, '--base-dir', ROOT], { cwd: scratch });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /the project folder \/ \(--base-dir\) cannot be used: it is the root of the file system/);
      assert.equal(existsSync(ROOT_STORE), rootStoreExisted, 'nothing is created in /');
    });
  }

  test('MCP_TASK_ORCHESTRATOR_BASE_DIR=/ and a start in / are refused the same way', async () => {
    const fromEnv = await runCli(['archive'], { cwd: scratch, env: { MCP_TASK_ORCHESTRATOR_BASE_DIR: ROOT } });
    assert.equal(fromEnv.code, 2, fromEnv.stderr);
    assert.match(fromEnv.stderr, /\(MCP_TASK_ORCHESTRATOR_BASE_DIR\) cannot be used: it is the root of the file system/);
    const inRoot = await runCli(['status'], { cwd: ROOT });
    assert.equal(inRoot.code, 2, inRoot.stderr);
    assert.match(inRoot.stderr, /the current folder \/ cannot be a project folder: it is the root of the file system\. Run this in the project, or pass --base-dir/);
  });

  test('the home folder itself, but not a project inside it', async () => {
    const home = path.join(scratch, 'home');
    await mkdir(path.join(home, 'project'), { recursive: true });
    for (const run of [runCli(['status', '--base-dir', home], { env: { HOME: home } }), runCli(['migrate'], { cwd: home, env: { HOME: home } })]) {
      const { code, stderr } = await run;
      assert.equal(code, 2, stderr);
      assert.match(stderr, /it is the home folder itself/);
    }
    assert.equal(existsSync(path.join(home, '.task_orchestrator')), false);
    const inside = await runCli(['status'], { cwd: path.join(home, 'project'), env: { HOME: home } });
    assert.equal(inside.code, 0, inside.stderr);
  });

  test('a missing folder "does not exist" and is not created; a file "is a file"', async () => {
    const missing = path.join(scratch, 'typo');
    const gone = await runCli(['migrate', '--base-dir', missing]);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /typo \(--base-dir\) cannot be used: it does not exist/);
    assert.equal(existsSync(missing), false);
    const file = path.join(scratch, 'a-file');
    await writeFile(file, 'text');
    const notAFolder = await runCli(['status', '--base-dir', file]);
    assert.equal(notAFolder.code, 2);
    assert.match(notAFolder.stderr, /a-file \(--base-dir\) cannot be used: it is a file, not a folder/);
  });

  test('the install folder: refused as the current folder, allowed when named (a checkout working on itself)', async () => {
    const inside = await runCli(['status'], { cwd: path.join(INSTALL_DIR, 'src') });
    assert.equal(inside.code, 2, inside.stderr);
    assert.match(inside.stderr, /it is the folder task-orchestrator is installed in/);
    const link = path.join(scratch, 'install-link');
    await symlink(INSTALL_DIR, link);
    const named = await runCli(['status', '--json', '--base-dir', link]);
    assert.equal(named.code, 0, named.stderr);
  });
});

describe('settings are checked at start', () => {
  test('an invalid value: status exits 2 naming each variable, its value and what is allowed', async () => {
    const { code, stdout, stderr } = await runCli(['status'], {
      cwd: scratch,
      env: { MCP_TASK_ORCHESTRATOR_LOG_LEVEL: 'verbose', MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: '10s', MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS: '100' },
    });
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    assert.match(stderr, /MCP_TASK_ORCHESTRATOR_LOG_LEVEL is "verbose": use debug, info, warn or error/);
    assert.match(stderr, /MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS is "10s": use a whole number of milliseconds from 100 \(0\.1 s\) to 600000 \(10 min\)/);
    assert.match(stderr, /MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS is "100": use a whole number of milliseconds from 5000 \(5 s\) to 3600000 \(1 h\)/);
  });

  test('any case is accepted, and an empty value counts as unset', async () => {
    const { code, stderr } = await runCli(['status'], { cwd: scratch, env: { MCP_TASK_ORCHESTRATOR_LOG_LEVEL: 'ERROR', MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: '', MCP_TASK_ORCHESTRATOR_BASE_DIR: '' } });
    assert.equal(code, 0, stderr);
  });

  test('serve with an invalid value exits non-zero at start, the message on stderr', async () => {
    const env = { PATH: process.env.PATH ?? '', MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS: 'soon' };
    // stdin stays open, as a client keeps it: only the refusal can end the process.
    const child = spawn(process.execPath, [CLI, 'serve'], { cwd: scratch, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 2, `serve must stop at start; stderr: ${stderr}`);
    assert.match(stderr, /MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS is "soon": use a whole number of milliseconds from 5000/);
    assert.equal(stdout, '', 'nothing on the MCP channel');
  });
});

describe('a read-only .task_orchestrator', () => {
  test('status and show read it, from inside the folder; archive says read-only', async (t) => {
    const project = await tempDir();
    const seeded = await seedProject(project);
    // A completed task left in tasks/active/ (a crash before its archive move), for archive to try.
    const tasks = path.join(project, '.task_orchestrator', 'tasks');
    await rename(path.join(tasks, 'archive', `${seeded.finished}.json`), path.join(tasks, 'active', `${seeded.finished}.json`));
    const view = await readOnlyView(project);
    try {
      if (!('dir' in view)) return t.skip(view.unavailable);
      const status = await runCli(['status'], { cwd: view.dir });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(seeded.unfinished));
      const shown = await runCli(['show', seeded.unfinished, '--json'], { cwd: view.dir });
      assert.equal(shown.code, 0, shown.stderr);
      const archive = await runCli(['archive', '--base-dir', view.dir]);
      assert.equal(archive.code, 1, archive.stderr);
      assert.match(archive.stderr, new RegExp(`could not archive ${seeded.finished}: .* is read-only: its tasks can be read but not changed`));
    } finally {
      if ('dir' in view) await view.remove();
      await removeDir(project);
    }
  });
});

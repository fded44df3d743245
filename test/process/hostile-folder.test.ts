/**
 * A hostile project folder: named pipes and dangling links where the server expects files, and file-system
 * limits (EMFILE, a file size limit) that make reads and lock writes fail. Each case runs the real server or
 * command line as a child process with a deadline: a hang (a blocked open, a lock loop spinning at full
 * CPU) shows up as a failed test, and the child is killed. Named pipes need a POSIX system.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { readSettings } from '../../src/config.js';
import type { Layout } from '../../src/store/file/layout.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { bundleWorker, ROOT, tempDir } from './helpers.js';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const posixOnly = process.platform === 'win32' ? 'named pipes, links and ulimit need a POSIX system' : false;
const FIFO_ID = 'task_00000000f1';
const DEADLINE_MS = 8_000;

function mkfifo(file: string): void {
  const made = spawnSync('mkfifo', [file]);
  assert.equal(made.status, 0, `mkfifo ${file}: ${made.stderr}`);
}

/** A project with one healthy unfinished task, made through the use cases; returns its ids. */
async function seed(dir: string): Promise<{ layout: Layout; parentId: string; subtaskId: string }> {
  const project = await openProject(dir, readSettings({}), silentLogger);
  try {
    const plan = await project.orchestrator.planTask({ description: 'A healthy task', subtasks: [{ title: 'Do it', description: 'the work', specialist_type: 'architect' }] });
    return { layout: project.layout, parentId: plan.parent_task_id, subtaskId: plan.subtasks[0]!.task_id };
  } finally {
    await project.close();
  }
}

/** Runs a command with a deadline; a child still running then is killed and the test fails, saying it hangs. */
function runWithin(command: string, args: string[], options: SpawnOptions, what: string, ms = DEADLINE_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${ms} ms (it hangs); stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the built CLI with a deadline. */
function runCliWithin(args: string[], cwd: string, ms = DEADLINE_MS) {
  return runWithin(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '' } }, `task-orchestrator ${args.join(' ')}`, ms);
}

interface Server {
  call(name: string, args?: Record<string, unknown>): Promise<{ isError: boolean; text: string; data: any }>;
  stop(): Promise<void>;
}

/** `task-orchestrator serve` as a client starts it; the handshake and every call have a deadline. */
async function startServer(dir: string): Promise<Server> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve'], cwd: dir, env: { PATH: process.env.PATH ?? '' }, stderr: 'pipe' });
  const client = new Client({ name: 'hostile-test', version: '1.0.0' });
  const stop = async () => {
    if (transport.pid) process.kill(transport.pid, 'SIGKILL');
    await client.close().catch(() => undefined);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.connect(transport), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the server did not answer the handshake within ${DEADLINE_MS} ms (it hangs)`)), DEADLINE_MS)))]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    async call(name, args = {}) {
      const reply = (await client.callTool({ name, arguments: args }, { timeout: DEADLINE_MS })) as { isError?: boolean; content: { text?: string }[]; structuredContent?: any };
      return { isError: reply.isError === true, text: reply.content.map((c) => c.text ?? '').join('\n'), data: reply.structuredContent };
    },
    stop,
  };
}

describe('a hostile project folder', { skip: posixOnly }, () => {
  test('named pipes as a task file, custom_roles.yaml, a template and the index cache: the server, status, roles and doctor answer and report them', { timeout: 90_000 }, async () => {
    const project = await tempDir('fifo');
    try {
      const { layout, parentId, subtaskId } = await seed(project.dir);
      mkfifo(path.join(layout.activeDir, `${FIFO_ID}.json`));
      mkfifo(path.join(layout.rolesDir, 'custom_roles.yaml'));
      mkfifo(path.join(layout.templatesDir, 'architect.md'));
      await mkdir(path.join(project.dir, 'config', 'templates'), { recursive: true });
      mkfifo(path.join(project.dir, 'config', 'templates', 'reviewer.md')); // the Python-era layout, migrated at start
      await rm(layout.indexCacheFile, { force: true });
      mkfifo(layout.indexCacheFile);

      // doctor first: the server replaces the cache (its own file) when it writes it.
      const doctor = await runCliWithin(['doctor', '--json'], project.dir);
      assert.equal(doctor.code, 1, doctor.stdout);
      const findings = JSON.parse(doctor.stdout).findings as { kind: string; subject: string }[];
      const subjects = (kind: string) => findings.filter((f) => f.kind === kind).map((f) => f.subject).sort();
      assert.deepEqual(subjects('not_a_regular_file'), [`tasks/active/${FIFO_ID}.json`, 'tasks/index-cache.json']);
      assert.deepEqual(subjects('role_file_error'), ['roles/custom_roles.yaml', 'roles/templates/architect.md']);

      const server = await startServer(project.dir);
      try {
        const session = await server.call('orchestrator_initialize_session');
        assert.equal(session.isError, false, session.text);
        const problem = session.data.storage_problems.find((p: any) => p.file === `tasks/active/${FIFO_ID}.json`);
        assert.ok(problem, JSON.stringify(session.data.storage_problems));
        assert.equal(problem.kind, 'not_a_file');
        assert.match(problem.reason, /named pipe/);
        assert.ok(session.data.role_file_errors.some((e: string) => /^custom_roles\.yaml: .*named pipe/.test(e)), session.data.role_file_errors.join('\n'));
        assert.ok(session.data.role_file_errors.some((e: string) => /^templates\/architect\.md: .*named pipe/.test(e)), session.data.role_file_errors.join('\n'));
        assert.deepEqual(session.data.active_tasks.map((t: any) => t.parent_task_id), [parentId], 'the healthy task is offered');

        const refused = await server.call('orchestrator_execute_subtask', { task_id: `${FIFO_ID}.1`, parent_task_id: FIFO_ID });
        assert.equal(refused.isError, true);
        assert.match(refused.text, /STORE_CORRUPT.*named pipe/s);
        const work = await server.call('orchestrator_execute_subtask', { task_id: subtaskId });
        assert.equal(work.isError, false, work.text);
        assert.match(work.text, /Do it/, 'the built-in template stands in for the refused one');
      } finally {
        await server.stop();
      }

      const status = await runCliWithin(['status'], project.dir);
      assert.match(status.stdout, new RegExp(`${FIFO_ID}\\.json cannot be used: is a named pipe`));
      const roles = await runCliWithin(['roles'], project.dir);
      assert.equal(roles.code, 1);
      assert.match(roles.stderr, /custom_roles\.yaml: is a named pipe/);
      assert.ok((await lstat(layout.indexCacheFile)).isFile(), 'the server wrote its cache over the pipe (never opening it)');
      assert.ok(!(await readdir(layout.templatesDir)).includes('reviewer.md'), 'the pipe in config/templates/ was not migrated');
      assert.match(await readFile(path.join(layout.logsDir, 'orchestrator.log'), 'utf8'), /Did not migrate .*reviewer\.md: is a named pipe/);

      const fixed = await runCliWithin(['doctor', '--fix'], project.dir);
      assert.match(fixed.stdout, new RegExp(`\\[fixed\\] tasks/active/${FIFO_ID}\\.json: moved to tasks/corrupted/`));
      assert.ok(!(await readdir(layout.activeDir)).includes(`${FIFO_ID}.json`), 'the pipe was set aside, not opened');
    } finally {
      await project.remove();
    }
  });

  test('a dangling link as a lock file: the change is refused with STORAGE_ERROR at once, the server keeps answering, doctor names it', { timeout: 60_000 }, async () => {
    const project = await tempDir('dangling-lock');
    try {
      const { layout, parentId, subtaskId } = await seed(project.dir);
      const lock = path.join(layout.locksDir, `${parentId}.lock`);
      await symlink(path.join(project.dir, 'nowhere'), lock);
      const server = await startServer(project.dir);
      try {
        const started = Date.now();
        const refused = await server.call('orchestrator_execute_subtask', { task_id: subtaskId });
        assert.equal(refused.isError, true);
        assert.match(refused.text, /STORAGE_ERROR.*is a symbolic link, not a lock file/s);
        assert.ok(Date.now() - started < 5_000, 'refused at once, not after the lock timeout');
        const status = await server.call('orchestrator_get_status');
        assert.equal(status.isError, false, 'the server still answers');
      } finally {
        await server.stop();
      }
      const doctor = await runCliWithin(['doctor'], project.dir);
      assert.equal(doctor.code, 1);
      assert.match(doctor.stdout, new RegExp(`\\[problem\\] locks/${parentId}\\.lock: a symbolic link, not a lock file`));
    } finally {
      await project.remove();
    }
  });

  describe('file-system limits, in a worker started under ulimit', () => {
    /** Runs the hostile worker bundle under `ulimit` settings, with a deadline; returns its one JSON line. */
    async function runLimited(bundle: string, limits: string, args: string[]): Promise<any> {
      // The shell ignores SIGXFSZ before exec (inherited), so a write past the file size limit fails with EFBIG instead of killing the worker.
      const script = `trap '' XFSZ; ${limits}; exec "$0" "$@"`;
      const { code, stdout, stderr } = await runWithin('/bin/sh', ['-c', script, process.execPath, bundle, ...args], {}, 'the worker');
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) throw new Error(`the worker exited with ${code}; stdout:\n${stdout}\nstderr:\n${stderr}`);
      return JSON.parse(line);
    }

    test('a lock file that cannot be written (file size limit: EFBIG; too many open files: EMFILE) is STORAGE_ERROR with a hint, and no temp lock file is left', { timeout: 60_000 }, async () => {
      const project = await tempDir('limits');
      const build = await tempDir('limits-bundle');
      try {
        const bundle = await bundleWorker('hostile-worker', build.dir);
        assert.ok(bundle, 'esbuild bundles the worker');
        const { layout, parentId } = await seed(project.dir);
        for (const [limits, mode, errno, hint] of [
          ['ulimit -f 0', 'update', 'EFBIG', /file size limit/],
          ['ulimit -n 64', 'update-emfile', 'EMFILE', /Too many files are open/],
        ] as const) {
          const result = await runLimited(bundle, limits, [mode, project.dir, parentId]);
          assert.equal(result.code, 'STORAGE_ERROR', `${limits}: ${JSON.stringify(result)}`);
          assert.equal(result.errno, errno, `${limits}: ${JSON.stringify(result)}`);
          assert.match(result.message, /lock file/);
          assert.match(result.message, hint);
          assert.deepEqual(await readdir(layout.locksDir), [], `${limits}: no lock and no temp lock file left`);
        }
      } finally {
        await build.remove();
        await project.remove();
      }
    });

    test('a lock retry loop whose lock vanishes at every look still sleeps and gives up at its deadline (it used to spin the process at 100 % CPU)', { timeout: 60_000 }, async () => {
      const build = await tempDir('vanishing-bundle');
      try {
        const bundle = await bundleWorker('hostile-worker', build.dir);
        assert.ok(bundle);
        const result = await runLimited(bundle, 'true', ['vanishing-lock', path.join(build.dir, 'locks')]);
        assert.equal(result.code, 'LOCK_TIMEOUT', JSON.stringify(result));
        assert.ok(result.ms < 3_000, `gave up after ${result.ms} ms`);
        assert.ok(result.ticks >= 10, `a 10 ms timer fired only ${result.ticks} times in ${result.ms} ms: the loop starves the process`);
      } finally {
        await build.remove();
      }
    });

    test('under EMFILE, initialize_session reports the task it cannot read instead of silently showing none', { timeout: 60_000 }, async () => {
      const project = await tempDir('emfile');
      const build = await tempDir('emfile-bundle');
      try {
        const bundle = await bundleWorker('hostile-worker', build.dir);
        assert.ok(bundle);
        const { parentId } = await seed(project.dir);
        const session = await runLimited(bundle, 'ulimit -n 64', ['session-emfile', project.dir]);
        assert.equal(session.active_task_count, 1);
        const problem = session.storage_problems.find((p: any) => p.parent_task_id === parentId);
        assert.ok(problem, `the unreadable task is reported: ${JSON.stringify(session)}`);
        assert.equal(problem.kind, 'unreadable');
        assert.match(problem.reason, /EMFILE/);
        assert.match(problem.action, /ulimit -n/);
      } finally {
        await build.remove();
        await project.remove();
      }
    });
  });
});

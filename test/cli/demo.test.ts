import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { formatArgs, shortenReply } from '../../src/cli/demo-view.js';
import { isPidAlive } from '../../src/store/file/lock.js';
import { CLI, removeDir, runCli, tempDir } from './helpers.js';

const TOOLS_IN_ORDER = [
  'orchestrator_initialize_session',
  'orchestrator_plan_task',
  'orchestrator_execute_subtask',
  'orchestrator_complete_subtask',
  'orchestrator_get_status',
  'orchestrator_synthesize_results',
];

/** The temporary project and the server's pid, as the demo announces them. */
function announced(stdout: string): { dir: string; pid: number } {
  const dir = /^Project: (\S+)/m.exec(stdout)?.[1];
  const pid = /\(pid (\d+)\)/.exec(stdout)?.[1];
  assert.ok(dir && pid, `the demo names its project and server:\n${stdout}`);
  return { dir, pid: Number(pid) };
}

test('demo plays the whole orchestration through the real server and leaves nothing behind', { timeout: 60_000 }, async () => {
  const result = await runCli(['demo']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const out = result.stdout;
  let from = 0;
  for (const tool of TOOLS_IN_ORDER) {
    const at = out.indexOf(`assistant calls ${tool}`, from);
    assert.ok(at >= 0, `${tool} is called after the previous tools`);
    from = at;
  }
  const parent = /Created task (task_[0-9a-f]{10}) with 3 subtasks/.exec(out)?.[1];
  assert.ok(parent, 'the server\'s own reply to plan_task is shown');
  assert.match(out, new RegExp(`server refuses \\(isError: true; nothing changed\\):\\n\\s+UNMET_DEPENDENCIES: Subtask ${parent}\\.2 depends on unfinished work`));
  assert.match(out, /You are a software architect/, 'the specialist prompt is shown');
  assert.match(out, new RegExp(`### Design the export \\(architect, ${parent}\\.1\\)\\n\\s+One CSV per report`), 'the implementer\'s prompt carries the design');
  assert.match(out, /3 subtasks in 1 active task\(s\): 1 pending, 1 active, 1 completed/);
  assert.match(out, /# Synthesis: Add CSV export to the reports page/);
  assert.match(out, /All subtasks are completed and the task was archived/);

  const { dir, pid } = announced(out);
  assert.equal(existsSync(dir), false, `${dir} is removed`);
  assert.equal(isPidAlive(pid), false, `the server (pid ${pid}) has exited`);
});

test('demo --keep keeps the project, with the archived task, and says where it is', { timeout: 60_000 }, async () => {
  const result = await runCli(['demo', '--keep']);
  assert.equal(result.code, 0, result.stderr);
  const { dir } = announced(result.stdout);
  try {
    assert.match(result.stdout, new RegExp(`status --all --base-dir ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const archived = await readdir(path.join(dir, '.task_orchestrator/tasks/archive'));
    assert.equal(archived.length, 1);
    const status = await runCli(['status', '--all', '--base-dir', dir]);
    assert.match(status.stdout, /Add CSV export to the reports page \(archived\)/);
  } finally {
    await removeDir(dir);
  }
});

test('demo ignores the user\'s orchestrator settings: nothing is written to a configured roles folder', { timeout: 60_000 }, async () => {
  const roles = await tempDir();
  try {
    const result = await runCli(['demo'], { env: { MCP_TASK_ORCHESTRATOR_CONFIG_DIR: roles } });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readdir(roles), []);
  } finally {
    await removeDir(roles);
  }
});

test('Ctrl-C during demo --step stops the server and removes the project', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [CLI, 'demo', '--step'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (text: string) => {
    const deadline = Date.now() + 20_000;
    while (!stdout.includes(text)) {
      assert.ok(Date.now() < deadline, `waited for "${text}", got:\n${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  try {
    await waitFor('Press Enter for step 1/');
    child.stdin.write('\n');
    await waitFor('Press Enter for step 2/');
    const { dir, pid } = announced(stdout);
    assert.equal(existsSync(path.join(dir, '.task_orchestrator')), true, 'the server has opened the project');
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.equal(existsSync(dir), false, `${dir} is removed`);
    assert.equal(isPidAlive(pid), false, `the server (pid ${pid}) has exited`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('demo | head: when its output is closed early it still removes the project and stops the server', { timeout: 60_000 }, async () => {
  // --step holds the demo at its first prompt, so the pipe is surely closed before the steps are printed.
  const child = spawn(process.execPath, [CLI, 'demo', '--step'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let stdout = '';
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Press Enter for step 1/')) resolve();
    }),
  );
  child.stdout.destroy(); // like `head` exiting: the demo's next write fails with EPIPE
  child.stdin.write('\n');
  await exited;
  const { dir, pid } = announced(stdout);
  assert.equal(existsSync(dir), false, `${dir} is removed`);
  const deadline = Date.now() + 5_000; // a killed server is reaped by init, not by us
  while (isPidAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(isPidAlive(pid), false, `the server (pid ${pid}) has exited`);
});

test('formatArgs: one line when it fits, else one level per line', () => {
  assert.equal(formatArgs({ task_id: 'task_1.2' }), '{"task_id":"task_1.2"}');
  const long = formatArgs({ description: 'x'.repeat(60), subtasks: [{ title: 'a', dependencies: ['b'] }, { title: 'c'.repeat(90) }] }, 80);
  assert.equal(
    long,
    ['{', `  "description": "${'x'.repeat(60)}",`, '  "subtasks": [', '    {"title":"a","dependencies":["b"]},', '    {', `      "title": "${'c'.repeat(90)}"`, '    }', '  ]', '}'].join('\n'),
  );
});

test('shortenReply: folds the role\'s sections and repeated ones, cuts long replies, and --full shows all', () => {
  const prompt = (id: string) =>
    [`# architect: ${id}`, 'Intro', '## Your expertise', '- a', '- b', '## Overall goal', 'Goal', '## When you are done', `Call complete with "task_0123456789.${id}"`, '- summary', ''].join('\n');
  const view = { full: false, maxLines: 100, seen: new Set<string>() };
  const first = shortenReply(prompt('1'), view);
  assert.match(first, /## Your expertise {2}\(2 lines about the role, folded\)/);
  assert.doesNotMatch(first, /- a/);
  assert.match(first, /## When you are done\nCall complete with "task_0123456789\.1"/);
  const second = shortenReply(prompt('2'), view);
  assert.match(second, /## When you are done {2}\(as in the prompt above\)$/, 'the same section with another id is shown once');
  assert.match(second, /## Overall goal\nGoal/, 'one-line sections are short enough to repeat');

  const long = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
  const cut = shortenReply(long, { full: false, maxLines: 10, seen: new Set() });
  assert.equal(cut.split('\n').length, 11);
  assert.match(cut, /^… 40 more lines \(--full shows everything\)$/m);
  assert.equal(shortenReply(prompt('3'), { full: true, maxLines: 10, seen: view.seen }), prompt('3').trimEnd());
});

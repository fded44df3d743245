import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { layoutOf, removeDir, runCli, seedProject, tempDir, type SeededProject } from './helpers.js';

describe('status', () => {
  let dir: string;
  let ids: SeededProject;
  before(async () => {
    dir = await tempDir();
    ids = await seedProject(dir);
  });
  after(() => removeDir(dir));

  test('lists unfinished tasks with progress, counts, interrupted and blocked subtasks', async () => {
    const { code, stdout, stderr } = await runCli(['status'], { cwd: dir });
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`${ids.unfinished}\\s+Build the login page`));
    assert.match(stdout, /25% \(1\/4 completed\)/);
    assert.match(stdout, /pending 1, active 1, completed 1, blocked 1/);
    assert.match(stdout, new RegExp(`interrupted ${ids.unfinished}\\.2 "Build the login form"`));
    assert.match(stdout, new RegExp(`blocked ${ids.unfinished}\\.3 "Deploy to staging" \\(implementer\\): Waiting for staging credentials`));
    assert.doesNotMatch(stdout, new RegExp(ids.finished), 'completed (archived) tasks only with --all');
    assert.doesNotMatch(stdout, /\u001b\[|█/, 'no colour or bars without a terminal');
  });

  test('--all adds archived tasks', async () => {
    const { code, stdout } = await runCli(['status', '--all', '--base-dir', dir]);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`${ids.finished}\\s+Write the changelog \\(archived\\)`));
    assert.match(stdout, /100% \(1\/1 completed\)/);
  });

  test('--json prints the same data', async () => {
    const { code, stdout } = await runCli(['status', '--json'], { cwd: dir });
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.parents.length, 1);
    const parent = report.parents[0];
    assert.equal(parent.parent_task_id, ids.unfinished);
    assert.deepEqual(parent.progress, { parent_task_id: ids.unfinished, completed_subtasks: 1, total_subtasks: 4, progress_percentage: 25 });
    assert.deepEqual(parent.status_counts, { pending: 1, active: 1, completed: 1, blocked: 1, failed: 0 });
    assert.deepEqual(parent.interrupted_subtasks.map((s: { task_id: string }) => s.task_id), [`${ids.unfinished}.2`]);
    assert.equal(parent.blocked_subtasks[0].reason, 'Waiting for staging credentials');
    assert.equal(report.totals.unfinished_parents, 1);
  });

  test('FORCE_COLOR draws bars and colour; NO_COLOR keeps the bars and drops the colour', async () => {
    const coloured = await runCli(['status'], { cwd: dir, env: { FORCE_COLOR: '1' } });
    assert.match(coloured.stdout, /\u001b\[/);
    assert.match(coloured.stdout, /█/);
    const plain = await runCli(['status'], { cwd: dir, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    assert.doesNotMatch(plain.stdout, /\u001b\[/);
    assert.match(plain.stdout, /\[█████░+\] 25%/);
  });

  test('a corrupted task file is reported, the other tasks still listed', async () => {
    const copy = await tempDir();
    try {
      await seedProject(copy);
      await writeFile(path.join(layoutOf(copy).activeDir, 'task_0000000bad.json'), '{"parent_task_id": ');
      const { code, stdout } = await runCli(['status'], { cwd: copy });
      assert.equal(code, 0);
      assert.match(stdout, /Build the login page/);
      assert.match(stdout, /tasks\/active\/task_0000000bad\.json cannot be used: not valid JSON.*doctor/);
    } finally {
      await removeDir(copy);
    }
  });
});

describe('status in an empty folder', () => {
  test('says there is nothing and creates nothing', async () => {
    const empty = await tempDir();
    try {
      const text = await runCli(['status'], { cwd: empty });
      assert.equal(text.code, 0);
      assert.match(text.stdout, /No unfinished tasks in /);
      const json = await runCli(['status', '--json'], { cwd: empty });
      assert.equal(JSON.parse(json.stdout).parents.length, 0);
      assert.deepEqual(await readdir(empty), []);
    } finally {
      await removeDir(empty);
    }
  });
});

describe('show', () => {
  let dir: string;
  let ids: SeededProject;
  before(async () => {
    dir = await tempDir();
    ids = await seedProject(dir);
  });
  after(() => removeDir(dir));

  test('a parent in full: description, context, each subtask with role, dependencies, status, results, artifacts, timestamps', async () => {
    const { code, stdout } = await runCli(['show', ids.unfinished], { cwd: dir });
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`Task ${ids.unfinished}\\s+active`));
    assert.match(stdout, /Description: Build the login page with password reset/);
    assert.match(stdout, /Context: React front end, Express API/);
    assert.match(stdout, new RegExp(`1\\. ${ids.unfinished}\\.1\\s+Design the login flow\\s+\\[completed\\]`));
    assert.match(stdout, /Role: architect/);
    assert.match(stdout, new RegExp(`Depends on: ${ids.unfinished}\\.1`));
    assert.match(stdout, /Results: Two screens; POST \/login and POST \/reset\./);
    assert.match(stdout, /Artifacts: docs\/login\.md/);
    assert.match(stdout, /Completed: \d{4}-\d\d-\d\dT/);
    assert.match(stdout, /\[active \(interrupted/);
    assert.match(stdout, /Blocked because: Waiting for staging credentials/);
  });

  test('a subtask, and an archived parent as JSON', async () => {
    const sub = await runCli(['show', `${ids.unfinished}.3`], { cwd: dir });
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, new RegExp(`Subtask of ${ids.unfinished}`));
    assert.match(sub.stdout, /Deploy to staging\s+\[blocked\]/);
    const archived = await runCli(['show', ids.finished, '--json'], { cwd: dir });
    const detail = JSON.parse(archived.stdout);
    assert.equal(detail.kind, 'parent');
    assert.equal(detail.location, 'archive');
    assert.equal(detail.parent.subtasks[0].results, 'Changelog written.');
  });

  test('an unknown id exits 1, a malformed id exits 2, both on stderr', async () => {
    const missing = await runCli(['show', 'task_ffffffffff'], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^error: No task or subtask task_ffffffffff/);
    const bad = await runCli(['show', '../etc/passwd'], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a task id/);
  });
});

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deadPid, layoutOf, pythonParent, readJson, removeDir, runCli, seedProject, tempDir, type SeededProject } from './helpers.js';

const CORRUPT_ID = 'task_00000000ba';

function lockOwner(pid: number, host = os.hostname()): string {
  return JSON.stringify({ pid, host, token: `t${pid}`, acquired_at: '2025-01-01T00:00:00.000Z' });
}

/** A seeded project with one of each repairable problem, and two things doctor must leave alone. */
async function breakProject(dir: string, ids: SeededProject): Promise<void> {
  const layout = layoutOf(dir);
  const gone = deadPid();
  await writeFile(path.join(layout.activeDir, `${CORRUPT_ID}.json`), '{"parent_task_id": "task_00000000ba", "subtasks": [');
  await writeFile(path.join(layout.locksDir, 'task_dead.lock'), lockOwner(gone));
  const stale = path.join(layout.locksDir, 'task_stale.lock');
  await writeFile(stale, lockOwner(1, 'another-host'));
  const longAgo = new Date(Date.now() - 2 * 3600_000);
  await utimes(stale, longAgo, longAgo);
  await writeFile(path.join(layout.locksDir, 'task_live.lock'), lockOwner(process.pid));
  await writeFile(path.join(layout.activeDir, `.${ids.unfinished}.json.${gone}.0123456789ab.tmp`), '{"half": ');
  await writeFile(path.join(layout.activeDir, `.${ids.unfinished}.json.${process.pid}.ba9876543210.tmp`), '{"in progress": ');
  // A completed parent left in tasks/active/ (a crash between completion and the archive move).
  const archived = await readFile(path.join(layout.archiveDir, `${ids.finished}.json`), 'utf8');
  await rm(path.join(layout.archiveDir, `${ids.finished}.json`));
  await writeFile(path.join(layout.activeDir, `${ids.finished}.json`), archived);
  await rm(layout.logsDir, { recursive: true, force: true });
}

async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.set(path.relative(dir, full), await readFile(full, 'utf8'));
    }
  };
  await walk(dir);
  return files;
}

describe('doctor', () => {
  test('an empty folder is healthy, with a note, and nothing is created', async () => {
    const empty = await tempDir();
    try {
      const { code, stdout } = await runCli(['doctor'], { cwd: empty });
      assert.equal(code, 0);
      assert.match(stdout, /has no \.task_orchestrator\/ folder/);
      assert.match(stdout, /Healthy/);
      assert.deepEqual(await readdir(empty), []);
    } finally {
      await removeDir(empty);
    }
  });

  test('a healthy project exits 0', async () => {
    const dir = await tempDir();
    try {
      await seedProject(dir);
      const { code, stdout } = await runCli(['doctor', '--base-dir', dir]);
      assert.equal(code, 0, stdout);
      assert.match(stdout, /Healthy: no problems\./);
    } finally {
      await removeDir(dir);
    }
  });

  describe('a damaged project', () => {
    let dir: string;
    let ids: SeededProject;
    before(async () => {
      dir = await tempDir();
      ids = await seedProject(dir);
      await breakProject(dir, ids);
    });
    after(() => removeDir(dir));

    test('without --fix: every finding with what it means, exit 1, nothing changed', async () => {
      const before = await snapshot(dir);
      const { code, stdout } = await runCli(['doctor'], { cwd: dir });
      assert.equal(code, 1);
      assert.deepEqual(await snapshot(dir), before, 'doctor without --fix changes nothing');
      assert.match(stdout, /\[problem\] logs: the folder is missing/);
      assert.match(stdout, new RegExp(`\\[problem\\] tasks/active/${CORRUPT_ID}\\.json: not valid JSON`));
      assert.match(stdout, new RegExp(`tasks/active/${ids.finished}\\.json: every subtask is completed`));
      // Servers take these over by themselves: notes, which --fix still clears.
      assert.match(stdout, /\[note\] locks\/task_dead\.lock: lock held by pid \d+ .*its owner \(pid \d+\) is gone/);
      assert.match(stdout, /\[note\] locks\/task_stale\.lock: .*not refreshed for/);
      assert.match(stdout, /\[note\] locks\/task_live\.lock: held by pid/);
      assert.match(stdout, /leftover temporary file: its writer \(pid \d+\) is gone/);
      assert.match(stdout, /\[note\] .*\.tmp: temporary file of pid \d+, which is running/);
      assert.match(stdout, /What it means: /);
      assert.match(stdout, /Not healthy: 4 problems, 4 notes.*doctor --fix/);
    });

    test('--json lists the same findings', async () => {
      const { code, stdout } = await runCli(['doctor', '--json'], { cwd: dir });
      assert.equal(code, 1);
      const report = JSON.parse(stdout);
      assert.equal(report.healthy, false);
      const kinds = report.findings.map((f: { kind: string }) => f.kind).sort();
      assert.deepEqual(kinds, ['corrupt_task_file', 'dead_lock', 'held_lock', 'missing_folder', 'stale_lock', 'temp_file', 'temp_file_in_use', 'unarchived_parent']);
    });

    test('--fix repairs what is safe, keeps every task\'s data, and exits 0 when healthy', async () => {
      const layout = layoutOf(dir);
      const corruptText = await readFile(path.join(layout.activeDir, `${CORRUPT_ID}.json`), 'utf8');
      const { code, stdout } = await runCli(['doctor', '--fix'], { cwd: dir });
      assert.equal(code, 0, stdout);
      assert.match(stdout, /\[fixed\] .*moved to tasks\/corrupted\//);
      assert.match(stdout, /Healthy: 6 repairs made, no problems, 3 notes\./);

      const corrupted = await readdir(path.join(layout.root, 'tasks', 'corrupted'));
      const kept = corrupted.find((n) => n.endsWith(`${CORRUPT_ID}.json`))!;
      assert.equal(await readFile(path.join(layout.root, 'tasks', 'corrupted', kept), 'utf8'), corruptText, 'the corrupted file is kept byte for byte');
      const report = await readFile(path.join(layout.root, 'tasks', 'corrupted', `${kept}.report.txt`), 'utf8');
      assert.match(report, /Why: not valid JSON/);
      assert.match(report, new RegExp(`Original location: .*tasks/active/${CORRUPT_ID}\\.json`));

      assert.deepEqual((await readdir(layout.locksDir)).sort(), ['task_live.lock'], 'dead and stale locks cleared, the live one kept');
      const active = await readdir(layout.activeDir);
      assert.deepEqual(active.filter((n) => n.endsWith('.tmp')).length, 1, 'only the running writer\'s temp file is left');
      assert.ok(!active.includes(`${ids.finished}.json`));
      assert.equal((await readJson(path.join(layout.archiveDir, `${ids.finished}.json`))).parent_task_id, ids.finished);
      assert.ok((await stat(layout.logsDir)).isDirectory());
    });
  });

  test('locks left by dead servers are notes (servers take them over): healthy, exit 0; --fix still clears them', async () => {
    const dir = await tempDir();
    try {
      await seedProject(dir);
      const layout = layoutOf(dir);
      await writeFile(path.join(layout.locksDir, 'task_dead.lock'), lockOwner(deadPid()));
      const { code, stdout } = await runCli(['doctor'], { cwd: dir });
      assert.equal(code, 0, stdout);
      assert.match(stdout, /\[note\] locks\/task_dead\.lock: .*is gone/);
      assert.match(stdout, /Healthy: no problems, 1 note\. "task-orchestrator doctor --fix" clears 1 leftover noted above\./);
      const fixed = await runCli(['doctor', '--fix'], { cwd: dir });
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.match(fixed.stdout, /\[fixed\] locks\/task_dead\.lock: cleared/);
      assert.deepEqual(await readdir(layout.locksDir), []);
    } finally {
      await removeDir(dir);
    }
  });

  test('problems it cannot fix keep the exit code at 1', async () => {
    const dir = await tempDir();
    try {
      await seedProject(dir);
      const layout = layoutOf(dir);
      await writeFile(path.join(layout.rolesDir, 'custom_roles.yaml'), 'tester:\n  expertise: 5\n');
      await mkdir(path.join(layout.activeDir), { recursive: true });
      await writeFile(path.join(layout.activeDir, 'task_9999999999.json'), JSON.stringify({ version: '9.0', parent_task_id: 'task_9999999999' }));
      const { code, stdout } = await runCli(['doctor', '--fix'], { cwd: dir });
      assert.equal(code, 1);
      assert.match(stdout, /custom_roles\.yaml: role "tester": expertise must be a list/);
      assert.match(stdout, /task_9999999999\.json: format version 9\.0 is newer/);
      assert.ok((await readdir(layout.activeDir)).includes('task_9999999999.json'), 'a file from a newer version is left alone');
    } finally {
      await removeDir(dir);
    }
  });
});

describe('a Python-era folder', () => {
  test('status lists its tasks; doctor reports what the layout lacks and --fix completes it', async () => {
    const dir = await tempDir();
    try {
      const active = path.join(dir, '.task_orchestrator', 'tasks', 'active');
      await mkdir(active, { recursive: true });
      await writeFile(path.join(active, 'task_py00000001.json'), JSON.stringify(pythonParent('task_py00000001', ['completed', 'active'])));
      await writeFile(path.join(active, 'task_py00000002.json'), JSON.stringify(pythonParent('task_py00000002', ['completed'])));

      const diagnosis = await runCli(['doctor', '--json'], { cwd: dir });
      assert.equal(diagnosis.code, 1);
      const kinds = new Set(JSON.parse(diagnosis.stdout).findings.map((f: { kind: string }) => f.kind));
      assert.deepEqual([...kinds].sort(), ['missing_folder', 'unarchived_parent']);

      const fixed = await runCli(['doctor', '--fix'], { cwd: dir });
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.deepEqual(await readdir(active), ['task_py00000001.json']);

      const status = await runCli(['status'], { cwd: dir });
      assert.match(status.stdout, /task_py00000001\s+Python task task_py00000001/);
      assert.match(status.stdout, /interrupted implementer_00011 "Step 2"/);
    } finally {
      await removeDir(dir);
    }
  });
});

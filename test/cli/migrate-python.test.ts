import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import initSqlJs from 'sql.js';
import YAML from 'yaml';
import { layoutOf, pythonParent, readJson, removeDir, runCli, tempDir, writeText } from './helpers.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/python-v1');

/** The tables SQLAlchemy created for the Python orchestrator's db/models.py (TaskBreakdownModel, SubTaskModel). */
const PYTHON_SCHEMA = `
CREATE TABLE task_breakdowns (
  parent_task_id VARCHAR NOT NULL, description TEXT NOT NULL, complexity VARCHAR NOT NULL, context TEXT,
  created_at DATETIME NOT NULL, PRIMARY KEY (parent_task_id));
CREATE TABLE subtasks (
  task_id VARCHAR NOT NULL, parent_task_id VARCHAR NOT NULL, title VARCHAR NOT NULL, description TEXT NOT NULL,
  specialist_type VARCHAR NOT NULL, dependencies JSON, estimated_effort VARCHAR NOT NULL, status VARCHAR NOT NULL,
  results TEXT, artifacts JSON, file_operations_count INTEGER, verification_status VARCHAR,
  created_at DATETIME NOT NULL, completed_at DATETIME,
  PRIMARY KEY (task_id), FOREIGN KEY(parent_task_id) REFERENCES task_breakdowns (parent_task_id));
CREATE TABLE lock_tracking (resource_name VARCHAR NOT NULL, locked_at DATETIME NOT NULL, locked_by VARCHAR NOT NULL, PRIMARY KEY (resource_name));
`;

type Row = [string, string, string, string, string, string, string, string, string | null, string | null, string, string | null];

/** Writes task_orchestrator.db the way SQLAlchemy stores it: DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff", JSON lists as text. */
async function writePythonDatabase(file: string): Promise<void> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run(PYTHON_SCHEMA);
  db.run('INSERT INTO task_breakdowns VALUES (?, ?, ?, ?, ?)', ['task_db00000001', 'Migrate the billing service to Postgres', 'complex', 'MySQL 5.7 today', '2025-06-01 09:00:00.000001']);
  db.run('INSERT INTO task_breakdowns VALUES (?, ?, ?, ?, ?)', ['task_db00000002', 'Write the release notes', 'simple', null, '2025-06-02 09:00:00.000000']);
  // The same parent as a task file, where the Python file store never saved the progress.
  db.run('INSERT INTO task_breakdowns VALUES (?, ?, ?, ?, ?)', ['task_both000001', 'A task in both stores', 'moderate', '', '2025-06-03 09:00:00']);
  const rows: Row[] = [
    ['architect_db01', 'task_db00000001', 'Plan the migration', 'Schema mapping', 'architect', '[]', '2 hours', 'completed', 'Use pgloader', '["docs/plan.md"]', '2025-06-01 09:00:01.5', '2025-06-01 11:00:00.25'],
    ['implementer_db02', 'task_db00000001', 'Run the migration', 'On staging', 'implementer', '["architect_db01"]', '1 day', 'active', null, '[]', '2025-06-01 09:00:01.6', null],
    ['tester_db03', 'task_db00000001', 'Verify the data', 'Row counts', 'tester', '["implementer_db02"]', '4 hours', 'TaskStatus.PENDING', null, null, '2025-06-01 09:00:01.7', null],
    ['documenter_db04', 'task_db00000002', 'Draft the notes', 'All changes', 'documenter', '[]', '1 hour', 'completed', 'Done', '[]', '2025-06-02 09:00:01', '2025-06-02 10:00:00'],
    ['implementer_both1', 'task_both000001', 'Only step', 'It', 'implementer', '[]', '1 hour', 'completed', 'Finished in the DB', '[]', '2025-06-03 09:00:01', '2025-06-03 10:00:00'],
  ];
  for (const [id, parent, title, description, role, deps, effort, status, results, artifacts, created, completed] of rows) {
    db.run('INSERT INTO subtasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)', [id, parent, title, description, role, deps, effort, status, results, artifacts, 'pending', created, completed]);
  }
  await writeFile(file, db.export());
  db.close();
}

/** A Python-era project: task files in tasks/active and tasks/archive, one unreadable, and the database. */
async function pythonInstallation(dir: string): Promise<string> {
  const root = path.join(dir, '.task_orchestrator');
  const active = path.join(root, 'tasks', 'active');
  const archive = path.join(root, 'tasks', 'archive');
  await writeText(path.join(active, 'task_json000001.json'), JSON.stringify(pythonParent('task_json000001', ['completed', 'active', 'pending']), null, 2));
  await writeText(path.join(archive, 'task_json000002.json'), JSON.stringify(pythonParent('task_json000002', ['completed', 'completed']), null, 2));
  await writeText(path.join(active, 'task_both000001.json'), JSON.stringify(pythonParent('task_both000001', ['pending']), null, 2));
  await writeText(path.join(active, 'task_broken0001.json'), '{"parent_task_id": "task_broken0001", ');
  await writePythonDatabase(path.join(root, 'task_orchestrator.db'));
  return root;
}

async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out[path.relative(dir, full)] = (await readFile(full)).toString('base64');
    }
  };
  await walk(dir);
  return out;
}

describe('migrate --from-python', () => {
  let python: string;
  let target: string;
  let first: Awaited<ReturnType<typeof runCli>>;
  before(async () => {
    python = await tempDir('orchestrator-python-');
    target = await tempDir();
    await pythonInstallation(python);
    first = await runCli(['migrate', '--from-python', python, '--base-dir', target]);
  });
  after(async () => {
    await removeDir(python);
    await removeDir(target);
  });

  test('imports the task files and the database, completed ones into the archive, with a summary', () => {
    assert.equal(first.code, 1, 'one task file could not be read');
    assert.match(first.stdout, /imported task_json000001 into tasks\/active\//);
    assert.match(first.stdout, /imported task_json000002 into tasks\/archive\//);
    assert.match(first.stdout, /imported task_db00000001 into tasks\/active\//);
    assert.match(first.stdout, /imported task_db00000002 into tasks\/archive\//);
    assert.match(first.stdout, /Summary: 5 tasks imported, 1 older duplicate copy skipped, 1 could not be read\./);
    assert.match(first.stderr, /skipped .*task_broken0001\.json: not valid JSON/);
  });

  test('database rows become task files: timestamps, JSON lists, enum names, order of subtasks', async () => {
    const layout = layoutOf(target);
    const parent = await readJson(path.join(layout.activeDir, 'task_db00000001.json'));
    assert.equal(parent.description, 'Migrate the billing service to Postgres');
    assert.equal(parent.complexity, 'complex');
    assert.equal(parent.created_at, '2025-06-01T09:00:00.000001');
    assert.deepEqual(parent.subtasks.map((s: { task_id: string }) => s.task_id), ['architect_db01', 'implementer_db02', 'tester_db03']);
    const [plan, run, verify] = parent.subtasks;
    assert.deepEqual(plan.artifacts, ['docs/plan.md']);
    assert.equal(plan.completed_at, '2025-06-01T11:00:00.25');
    assert.deepEqual(run.dependencies, ['architect_db01']);
    assert.equal(verify.status, 'pending');
    assert.deepEqual(verify.artifacts, []);
  });

  test('a parent in both stores keeps the copy that got further', async () => {
    const parent = await readJson(path.join(layoutOf(target).archiveDir, 'task_both000001.json'));
    assert.equal(parent.subtasks[0].results, 'Finished in the DB');
  });

  test('imported tasks work with the other commands: interrupted Python work is shown', async () => {
    const { code, stdout } = await runCli(['status'], { cwd: target });
    assert.equal(code, 0);
    assert.match(stdout, /task_db00000001\s+Migrate the billing service/);
    assert.match(stdout, /interrupted implementer_db02 "Run the migration"/);
    const show = await runCli(['show', 'tester_db03', '--json'], { cwd: target });
    assert.equal(JSON.parse(show.stdout).matches[0].parent_task_id, 'task_db00000001');
  });

  test('running it again changes nothing, and the Python files are never changed', async () => {
    const sourceBefore = await contents(python);
    const targetBefore = await contents(path.join(target, '.task_orchestrator', 'tasks'));
    const again = await runCli(['migrate', '--from-python', python, '--base-dir', target]);
    assert.match(again.stdout, /0 tasks imported, 5 already present/);
    assert.match(again.stdout, /Nothing new to import|could not be read/);
    assert.deepEqual(await contents(path.join(target, '.task_orchestrator', 'tasks')), targetBefore);
    assert.deepEqual(await contents(python), sourceBefore);
  });

  test('--json reports every entry', async () => {
    const { stdout } = await runCli(['migrate', '--from-python', path.join(python, '.task_orchestrator'), '--base-dir', target, '--json']);
    const report = JSON.parse(stdout);
    assert.equal(report.counts.already_present, 5);
    assert.deepEqual(report.databases.map((d: { file: string }) => d.file), [path.join(python, '.task_orchestrator', 'task_orchestrator.db')]);
    assert.equal(report.task_files, 4);
  });
});

describe('migrate --from-python, other cases', () => {
  test('the shared Python v1 fixtures import cleanly', { skip: !existsSync(FIXTURES) }, async () => {
    const python = await tempDir('orchestrator-python-');
    const target = await tempDir();
    try {
      const active = path.join(python, '.task_orchestrator', 'tasks', 'active');
      await mkdir(active, { recursive: true });
      const names = (await readdir(FIXTURES)).filter((n) => n.endsWith('.json'));
      for (const name of names) await copyFile(path.join(FIXTURES, name), path.join(active, name));
      const { code, stdout, stderr } = await runCli(['migrate', '--from-python', python, '--base-dir', target, '--json']);
      const report = JSON.parse(stdout);
      const readable = report.entries.filter((e: { outcome: string }) => e.outcome !== 'unreadable');
      assert.equal(code, report.counts.unreadable ? 1 : 0, stderr);
      assert.equal(report.counts.imported, readable.filter((e: { outcome: string }) => e.outcome === 'imported').length);
      assert.ok(report.counts.imported > 0);
      const doctor = await runCli(['doctor'], { cwd: target });
      assert.equal(doctor.code, 0, doctor.stdout);
    } finally {
      await removeDir(python);
      await removeDir(target);
    }
  });

  test('changes still in the database\'s -wal file are imported (a Python server that was killed)', { skip: spawnSync('python3', ['-c', 'import sqlite3']).status !== 0 && 'python3 with sqlite3 is not installed' }, async () => {
    const python = await tempDir('orchestrator-python-');
    const target = await tempDir();
    try {
      const root = path.join(python, '.task_orchestrator');
      await mkdir(root, { recursive: true });
      const script = `
import sqlite3, shutil, sys
db = sys.argv[1]
c = sqlite3.connect(db)
c.execute('PRAGMA journal_mode=WAL')
c.executescript(sys.argv[2])
c.execute("INSERT INTO task_breakdowns VALUES ('task_wal0000001', 'Checkpointed', 'simple', NULL, '2025-06-01 09:00:00')")
c.commit()
c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
c.execute("INSERT INTO task_breakdowns VALUES ('task_wal0000002', 'Only in the WAL', 'simple', NULL, '2025-06-01 09:00:00')")
c.execute("INSERT INTO subtasks VALUES ('tester_wal1', 'task_wal0000002', 'Test', 'd', 'tester', '[]', '1h', 'pending', NULL, '[]', 0, 'pending', '2025-06-01 09:00:00', NULL)")
c.commit()
shutil.copy(db, db + '.kept'); shutil.copy(db + '-wal', db + '.kept-wal')
c.close()
shutil.move(db + '.kept', db); shutil.move(db + '.kept-wal', db + '-wal')
`;
      const made = spawnSync('python3', ['-c', script, path.join(root, 'task_orchestrator.db'), PYTHON_SCHEMA], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      assert.ok(existsSync(path.join(root, 'task_orchestrator.db-wal')));
      const { code, stdout } = await runCli(['migrate', '--from-python', python, '--base-dir', target]);
      assert.equal(code, 0, stdout);
      assert.match(stdout, /imported task_wal0000001/);
      assert.match(stdout, /imported task_wal0000002/);
      assert.match(stdout, /committed changes of its -wal file/);
      const parent = await readJson(path.join(layoutOf(target).activeDir, 'task_wal0000002.json'));
      assert.equal(parent.subtasks[0].task_id, 'tester_wal1');
    } finally {
      await removeDir(python);
      await removeDir(target);
    }
  });

  test('a folder without Python data is a usage error; a file that is not a database is reported', async () => {
    const empty = await tempDir();
    const target = await tempDir();
    try {
      const none = await runCli(['migrate', '--from-python', empty, '--base-dir', target]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /No Python task orchestrator data in/);
      await writeText(path.join(empty, '.task_orchestrator', 'task_orchestrator.db'), 'not a database at all');
      const bad = await runCli(['migrate', '--from-python', empty, '--base-dir', target]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /the database cannot be read/);
      const force = await runCli(['migrate', '--from-python', empty, '--force', '--base-dir', target]);
      assert.equal(force.code, 2);
    } finally {
      await removeDir(empty);
      await removeDir(target);
    }
  });

  test('v1.3 and v1.4 kept the database beside .task_orchestrator/, and MCP_TASK_ORCHESTRATOR_DB_PATH may name another: all are read and reported', async () => {
    const python = await tempDir('orchestrator-python-');
    const elsewhere = await tempDir('orchestrator-python-db-');
    const target = await tempDir();
    try {
      await writeText(path.join(python, '.task_orchestrator', 'tasks', 'active', 'task_json000001.json'), JSON.stringify(pythonParent('task_json000001', ['pending'])));
      await writePythonDatabase(path.join(python, 'task_orchestrator.db'));
      await writeText(path.join(elsewhere, 'orchestrator.sqlite'), 'not a database');
      const { code, stdout, stderr } = await runCli(['migrate', '--from-python', python, '--base-dir', target], { env: { MCP_TASK_ORCHESTRATOR_DB_PATH: path.join(elsewhere, 'orchestrator.sqlite') } });
      assert.equal(code, 1, 'the file named by MCP_TASK_ORCHESTRATOR_DB_PATH is not a database');
      assert.match(stdout, /1 task file in .*\.task_orchestrator\/tasks/);
      assert.match(stdout, new RegExp(`database ${python.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/task_orchestrator\\.db \\(3 tasks\\)`));
      assert.match(stdout, /imported task_db00000001 into tasks\/active\//);
      assert.match(stdout, /imported task_json000001 into tasks\/active\//);
      assert.match(stderr, /orchestrator\.sqlite: the database cannot be read/);
    } finally {
      await removeDir(python);
      await removeDir(elsewhere);
      await removeDir(target);
    }
  });

  test('custom roles are imported into custom_roles.yaml without overwriting a role the user already has', async () => {
    const python = await tempDir('orchestrator-python-');
    const target = await tempDir();
    try {
      const roles = path.join(python, '.task_orchestrator', 'roles');
      await writeText(path.join(roles, 'custom_roles.yaml'), [
        'data_engineer:', '  role_definition: You are a data engineer from custom_roles', '  expertise: [ETL]',
        'architect:', '  output_format: The Python architect format',
        'broken_role:', '  expertise: 42',
      ].join('\n'));
      await writeText(path.join(roles, 'project_roles.yaml'), [
        'data_engineer:', '  role_definition: You are the project_roles data engineer, which loses',
        'security_auditor:', '  role_definition: You are a security auditor', '  approach: [Threat model first]',
      ].join('\n'));
      await writeText(path.join(python, 'team_roles.yaml'), 'ml_engineer:\n  role_definition: You are an ML engineer\n');
      const ours = path.join(target, '.task_orchestrator', 'roles', 'custom_roles.yaml');
      await writeText(ours, '# my own roles\narchitect:\n  output_format: One ADR per decision  # mine\n');

      const { code, stdout, stderr } = await runCli(['migrate', '--from-python', python, '--base-dir', target]);
      assert.equal(code, 1, 'broken_role could not be imported');
      assert.match(stderr, /skipped role "broken_role" of .*custom_roles\.yaml: .*expertise must be a list/);
      assert.match(stdout, /kept your role architect/);
      assert.match(stdout, /3 roles imported/);
      const written = await readFile(ours, 'utf8');
      assert.match(written, /^# my own roles\narchitect:\n  output_format: One ADR per decision # mine\n/, 'the user\'s file and comments come first, unchanged');
      assert.doesNotMatch(written, /Python architect format|which loses|broken_role/);

      const listed = await runCli(['roles', '--json'], { cwd: target });
      assert.equal(listed.code, 0, listed.stdout + listed.stderr);
      const sources = Object.fromEntries(JSON.parse(listed.stdout).roles.map((r: { name: string; source: string; summary: string }) => [r.name, `${r.source}: ${r.summary}`]));
      assert.equal(sources.data_engineer, 'custom_roles.yaml: Data engineer from custom_roles');
      assert.equal(sources.security_auditor, 'custom_roles.yaml: Security auditor');
      assert.equal(sources.ml_engineer, 'custom_roles.yaml: ML engineer');
      const merged = YAML.parse(written);
      assert.deepEqual(merged.security_auditor.approach, ['Threat model first']);
      assert.equal(merged.architect.output_format, 'One ADR per decision');

      const again = await runCli(['migrate', '--from-python', python, '--base-dir', target]);
      assert.match(again.stdout, /Nothing new to import|0 tasks imported/);
      assert.equal(await readFile(ours, 'utf8'), written, 'a second run changes nothing');
    } finally {
      await removeDir(python);
      await removeDir(target);
    }
  });
});

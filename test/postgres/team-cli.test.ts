import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { removeDir, runCli, tempDir } from '../cli/helpers.js';
import { connectSpawned, samplePlan } from '../mcp/harness.js';
import { freshDatabase, skipWithoutPostgres, type TestDatabase } from './db.js';

const RECORDER = pathToFileURL(path.resolve(import.meta.dirname, '../fixtures/record-imports.mjs')).href;
const SECRET = 'not-a-real-password-4711';

/** The test database's URL with a password in it: trust authentication ignores it, but it must never be shown. */
function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = SECRET;
  return parsed.toString();
}

describe('team mode from the command line and a spawned server', skipWithoutPostgres, () => {
  let db: TestDatabase;
  let url: string;
  let dir: string;
  let parentId: string;
  let designId: string;

  before(async () => {
    db = await freshDatabase();
    url = withPassword(db.url);
    dir = await tempDir();
  });
  after(async () => {
    await removeDir(dir);
    await db?.drop();
  });

  test('serve with a database URL keeps its tasks there, loads the driver, and never logs the password', async () => {
    const record = path.join(dir, 'imports.txt');
    const server = await connectSpawned(dir, { MCP_TASK_ORCHESTRATOR_DATABASE_URL: url, NODE_OPTIONS: `--import ${RECORDER}`, RECORD_IMPORTS_TO: record });
    try {
      const plan = await server.call('orchestrator_plan_task', samplePlan);
      assert.equal(plan.isError, false, plan.text);
      parentId = plan.data.parent_task_id;
      designId = plan.data.subtasks[0].task_id;
      assert.equal((await server.call('orchestrator_execute_subtask', { task_id: designId })).isError, false);
      const done = await server.call('orchestrator_complete_subtask', { task_id: designId, summary: 'designed', detailed_work: 'the design, at length. '.repeat(200), next_action: 'continue' });
      assert.equal(done.isError, false, done.text);
    } finally {
      await server.close();
    }
    const loaded = await readFile(record, 'utf8');
    assert.match(loaded, /\/node_modules\/pg\//, 'the driver is loaded in team mode (the lazy-loading test checks that it is not without)');
    const rows = await db.query(`SELECT parent_task_id FROM task_orchestrator.parents`);
    assert.deepEqual(rows, [{ parent_task_id: parentId }]);
    const log = await readFile(path.join(dir, '.task_orchestrator', 'logs', 'orchestrator.log'), 'utf8');
    assert.match(log, /Serving tasks from the PostgreSQL database postgres:\/\/postgres:\*\*\*@/);
    assert.doesNotMatch(log + server.stderr(), new RegExp(SECRET));
  });

  test('status, show (with the detailed work from the database) and doctor with --database-url', async () => {
    const status = await runCli(['status', '--json', '--database-url', url], { cwd: dir });
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout).parents.map((p: { parent_task_id: string }) => p.parent_task_id), [parentId]);
    const show = await runCli(['show', designId, '--database-url', url], { cwd: dir });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Detailed work:\n\s+tasks\/work\/task_[0-9a-f]{10}\/task_[0-9a-f]{10}\.1\.1\.md:\n\s+the design, at length\./);
    const doctor = await runCli(['doctor', '--database-url', url], { cwd: dir });
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /Checking the database postgres:\/\/postgres:\*\*\*@.*\n[\s\S]*schema version 1[\s\S]*Healthy/);
    assert.doesNotMatch(status.stdout + show.stdout + doctor.stdout + doctor.stderr, new RegExp(SECRET));
  });

  test('roles --push replaces the team\'s roles with the project\'s, which every server then offers; refused without a database or with broken files', async () => {
    const noDatabase = await runCli(['roles', '--push'], { cwd: dir });
    assert.equal(noDatabase.code, 2);
    assert.match(noDatabase.stderr, /--push replaces the role files of a team's database: set MCP_TASK_ORCHESTRATOR_DATABASE_URL or pass --database-url/);
    const roles = path.join(dir, '.task_orchestrator', 'roles');
    await mkdir(path.join(roles, 'templates'), { recursive: true });
    await writeFile(path.join(roles, 'custom_roles.yaml'), 'tester:\n  expertise: 5\n');
    const broken = await runCli(['roles', '--push', '--database-url', url], { cwd: dir });
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /have 1 problem\(s\), so they were not pushed/);
    await writeFile(path.join(roles, 'custom_roles.yaml'), 'security_auditor:\n  role_definition: You are a security auditor.\n  expertise: [threat models]\n');
    await writeFile(path.join(roles, 'templates', 'security_auditor.md'), 'Audit {{subtask_title}} as the team does.\n');
    const pushed = await runCli(['roles', '--push', '--json', '--database-url', url], { cwd: dir });
    assert.equal(pushed.code, 0, pushed.stderr);
    const report = JSON.parse(pushed.stdout);
    assert.equal(report.team.how, 'pushed');
    assert.equal(report.roles.find((r: { name: string }) => r.name === 'security_auditor').template, 'templates/security_auditor.md');

    const elsewhere = await tempDir(); // another machine's project folder: no custom role there
    const server = await connectSpawned(elsewhere, { MCP_TASK_ORCHESTRATOR_DATABASE_URL: url });
    try {
      const session = await server.call('orchestrator_initialize_session');
      assert.ok('security_auditor' in session.data.orchestrator_context.specialist_roles, 'the team\'s role, from the database');
    } finally {
      await server.close();
      await removeDir(elsewhere);
    }
  });

  test('an invalid URL stops the command with exit code 2, its password hidden', async () => {
    const bad = await runCli(['status', '--database-url', `mysql://u:${SECRET}@host/db`], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--database-url is "mysql:\/\/u:\*\*\*@host\/db": it starts with "mysql:\/\/", not postgres:\/\/ or postgresql:\/\//);
    assert.doesNotMatch(bad.stderr, new RegExp(SECRET));
  });
});

describe('status with --database-url on a database without tasks', skipWithoutPostgres, () => {
  test('names the database (password hidden), not the project folder', async () => {
    const db = await freshDatabase();
    const dir = await tempDir();
    try {
      const status = await runCli(['status', '--database-url', withPassword(db.url)], { cwd: dir });
      assert.equal(status.code, 0, status.stderr);
      const redacted = withPassword(db.url).replace(SECRET, '***');
      assert.equal(status.stdout.trim(), `No unfinished tasks in the database ${redacted}.`);
      assert.doesNotMatch(status.stdout, new RegExp(SECRET));
    } finally {
      await removeDir(dir);
      await db.drop();
    }
  });
});

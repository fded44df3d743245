import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { layoutOf, pythonParent, removeDir, runCli, seedProject, tempDir, writeText } from './helpers.js';

describe('archive', () => {
  test('moves completed tasks left in tasks/active/, honouring --older-than', async () => {
    const dir = await tempDir();
    try {
      const { unfinished } = await seedProject(dir);
      const layout = layoutOf(dir);
      const recent = new Date(Date.now() - 3600_000).toISOString();
      await writeText(path.join(layout.activeDir, 'task_old0000001.json'), JSON.stringify(pythonParent('task_old0000001', ['completed', 'completed'])));
      await writeText(path.join(layout.activeDir, 'task_new0000001.json'), JSON.stringify({ ...pythonParent('task_new0000001', ['completed']), completed_at: recent }));

      const older = await runCli(['archive', '--older-than', '7d'], { cwd: dir });
      assert.equal(older.code, 0, older.stderr);
      assert.match(older.stdout, /archived task_old0000001/);
      assert.match(older.stdout, /1 completed task completed less than 7d ago stays in tasks\/active\//);
      assert.deepEqual((await readdir(layout.activeDir)).sort(), [`${unfinished}.json`, 'task_new0000001.json'].sort());

      const all = await runCli(['archive', '--json'], { cwd: dir });
      assert.deepEqual(JSON.parse(all.stdout).archived.map((a: { parent_task_id: string }) => a.parent_task_id), ['task_new0000001']);
      assert.deepEqual(await readdir(layout.activeDir), [`${unfinished}.json`], 'unfinished tasks are never archived');

      const again = await runCli(['archive'], { cwd: dir });
      assert.match(again.stdout, /nothing to archive/);
    } finally {
      await removeDir(dir);
    }
  });

  test('a bad duration is a usage error', async () => {
    const { code, stderr } = await runCli(['archive', '--older-than', 'soon']);
    assert.equal(code, 2);
    assert.match(stderr, /"soon" is not a duration/);
  });
});

describe('roles', () => {
  test('lists the built-in roles and where each comes from', async () => {
    const dir = await tempDir();
    try {
      const { code, stdout } = await runCli(['roles'], { cwd: dir });
      assert.equal(code, 0);
      for (const role of ['architect', 'implementer', 'debugger', 'documenter', 'reviewer', 'tester', 'researcher']) assert.match(stdout, new RegExp(`^${role}\\s`, 'm'));
      assert.match(stdout, /from built-in default/);
      assert.deepEqual(await readdir(dir), [], 'roles only reads');
    } finally {
      await removeDir(dir);
    }
  });

  test('custom roles, the config folder, and validation errors (exit 1)', async () => {
    const dir = await tempDir();
    const config = await tempDir('orchestrator-config-');
    try {
      await writeFile(path.join(config, 'custom_roles.yaml'), 'security_auditor:\n  role_definition: You are a security auditor.\n  expertise: [threat models]\ntester:\n  expertise: 5\n');
      const { code, stdout, stderr } = await runCli(['roles', '--json'], { cwd: dir, env: { MCP_TASK_ORCHESTRATOR_CONFIG_DIR: config } });
      assert.equal(code, 1);
      const report = JSON.parse(stdout);
      assert.equal(report.from_config_dir, true);
      const auditor = report.roles.find((r: { name: string }) => r.name === 'security_auditor');
      assert.equal(auditor.source, 'custom_roles.yaml');
      assert.equal(auditor.file, path.join(config, 'custom_roles.yaml'));
      assert.match(report.errors.join('\n'), /role "tester": expertise must be a list/);
      assert.equal(stderr, '');
      const text = await runCli(['roles'], { cwd: dir, env: { MCP_TASK_ORCHESTRATOR_CONFIG_DIR: config } });
      assert.match(text.stdout, /security_auditor\s+Security auditor/);
      assert.match(text.stderr, /custom_roles\.yaml: role "tester"/);
    } finally {
      await removeDir(dir);
      await removeDir(config);
    }
  });
});

describe('every command', () => {
  for (const command of ['status', 'show', 'doctor', 'migrate', 'archive', 'roles', 'setup', 'serve']) {
    test(`${command} --help shows examples and --base-dir`, async () => {
      const { code, stdout } = await runCli([command, '--help']);
      assert.equal(code, 0);
      assert.match(stdout, /Examples:\n {2}\$ task-orchestrator /);
      assert.match(stdout, /--base-dir <dir>/);
    });
  }

  test('an unknown command or option exits 2 with the error on stderr', async () => {
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const option = await runCli(['status', '--colour']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /unknown option '--colour'/);
  });

  test('a folder that cannot be a project is a usage error', async () => {
    const { code, stderr } = await runCli(['status'], { cwd: '/' });
    assert.equal(code, 2);
    assert.match(stderr, /the current folder \/ cannot be a project folder: it is the root of the file system/);
    const typo = await runCli(['doctor', '--base-dir', '/no/such/project']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /the project folder \/no\/such\/project \(--base-dir\) cannot be used: it does not exist/);
  });
});

/**
 * Files a person or a cloned repository put in the project that the server must not trust: role files and
 * templates that are links leading out of the project (a private key, say), a folder where a template
 * belongs, a task file nested 200,000 levels deep, a folder where a lock file belongs. Real links and
 * folders in temp projects, the real store and use cases.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { OrchestratorError } from '../../src/domain/errors.js';
import { serializeTaskFile } from '../../src/domain/task-file.js';
import { diagnose } from '../../src/maintenance/doctor.js';
import { layoutFor } from '../../src/store/file/layout.js';
import { defaultLockOptions, LockManager } from '../../src/store/file/lock.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject, type OpenProject } from '../../src/compose/open-project.js';
import { describeRoles } from '../../src/roles/role-report.js';
import { migrateLegacyConfig } from '../../src/roles/role-files.js';

const SECRET = 'BEGIN PRIVATE KEY -- 5ecret-b1ts';
const links = process.platform === 'win32' ? 'symbolic links need privileges on Windows' : false;

/** A temp folder holding a project and, beside it, a folder outside the project with a secret in it. */
async function withProject(work: (dirs: { project: string; outside: string; secret: string }) => Promise<void>): Promise<void> {
  const top = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-hostile-'));
  try {
    const project = path.join(top, 'project');
    const outside = path.join(top, 'outside');
    await mkdir(project);
    await mkdir(outside);
    const secret = path.join(outside, 'id_rsa');
    await writeFile(secret, SECRET);
    await work({ project, outside, secret });
  } finally {
    await rm(top, { recursive: true, force: true });
  }
}

async function open(dir: string): Promise<OpenProject> {
  return openProject(dir, readSettings({}), silentLogger);
}

/** The specialist prompt the architect gets for a new one-subtask plan. */
async function architectPrompt(project: OpenProject): Promise<string> {
  const plan = await project.orchestrator.planTask({ description: 'Design it', subtasks: [{ title: 'Design', description: 'the design', specialist_type: 'architect' }] });
  return (await project.orchestrator.executeSubtask({ task_id: plan.subtasks[0]!.task_id })).specialist_prompt;
}

describe('role files and templates', { skip: links }, () => {
  test('links leading out of the project are never read, copied or sent: config/ migration, templates, custom_roles.yaml', () =>
    withProject(async ({ project: dir, outside, secret }) => {
      const layout = layoutFor(dir);
      await mkdir(path.join(dir, 'config', 'templates'), { recursive: true });
      await symlink(secret, path.join(dir, 'config', 'templates', 'architect.md'));
      await symlink(secret, path.join(dir, 'config', 'specialists.yaml'));
      await mkdir(layout.templatesDir, { recursive: true });
      await symlink(secret, path.join(layout.templatesDir, 'specialist_prompt.md'));
      await writeFile(path.join(outside, 'roles.yaml'), `tester:\n  role_definition: "${SECRET}"\n`);
      await symlink(path.join(outside, 'roles.yaml'), path.join(layout.rolesDir, 'custom_roles.yaml'));

      const project = await open(dir);
      try {
        const prompt = await architectPrompt(project);
        assert.ok(!prompt.includes(SECRET), 'the secret is not in the prompt');
        assert.ok(!(await readFile(path.join(layout.templatesDir, 'architect.md'), 'utf8').catch(() => '')).includes(SECRET), 'not copied into roles/templates/');
        assert.ok(!(await readFile(path.join(layout.rolesDir, 'default_roles.yaml'), 'utf8')).includes(SECRET), 'not copied into default_roles.yaml');
        assert.ok(![...project.orchestrator.ctx.roles.roles.values()].some((r) => JSON.stringify(r).includes(SECRET)), 'not among the roles');
        const errors = project.orchestrator.ctx.roles.errors.join('\n');
        assert.match(errors, /^custom_roles\.yaml: leads out of the project \(to .*roles\.yaml\), so it was never read/m);
        assert.match(errors, /^templates\/specialist_prompt\.md: leads out of the project/m);
      } finally {
        await project.close();
      }
      const migration = await migrateLegacyConfig(layout, { force: true });
      assert.deepEqual(migration.copied, []);
      assert.deepEqual(migration.skipped.map((s) => [path.basename(s.from), s.refused, /leads out of the project/.test(s.reason)]).sort(), [['architect.md', true, true], ['specialists.yaml', true, true]]);
      const report = await describeRoles(layout);
      assert.equal(report.roles.find((r) => r.name === 'architect')!.template, null, '"roles" does not show the refused template as used');
    }));

  test('links that stay inside the project are followed (after resolving where they lead)', () =>
    withProject(async ({ project: dir }) => {
      const layout = layoutFor(dir);
      await mkdir(path.join(dir, 'docs'), { recursive: true });
      await writeFile(path.join(dir, 'docs', 'architect-template.md'), 'Shared template for {{subtask_title}}');
      await writeFile(path.join(dir, 'docs', 'roles.yaml'), 'tester:\n  role_definition: "Tester from the shared file"\n');
      await mkdir(layout.templatesDir, { recursive: true });
      await symlink('../../../docs/architect-template.md', path.join(layout.templatesDir, 'architect.md'));
      await symlink(path.join(dir, 'docs', 'roles.yaml'), path.join(layout.rolesDir, 'custom_roles.yaml'));
      const project = await open(dir);
      try {
        assert.deepEqual(project.orchestrator.ctx.roles.errors, []);
        assert.equal(await architectPrompt(project), 'Shared template for Design');
        assert.equal(project.orchestrator.ctx.roles.roles.get('tester')!.role_definition, 'Tester from the shared file');
      } finally {
        await project.close();
      }
    }));

  test('a folder named roles/templates/architect.md is skipped and reported; the store stays usable', () =>
    withProject(async ({ project: dir }) => {
      const layout = layoutFor(dir);
      await mkdir(path.join(layout.templatesDir, 'architect.md'), { recursive: true });
      const project = await open(dir);
      try {
        assert.match(await architectPrompt(project), /Design/);
        assert.match(project.orchestrator.ctx.roles.errors.join('\n'), /^templates\/architect\.md: is a folder, not a regular file/m);
      } finally {
        await project.close();
      }
      const findings = await diagnose(layout, { locks: new LockManager(layout.locksDir, defaultLockOptions()) });
      assert.deepEqual(findings.filter((f) => f.kind === 'role_file_error').map((f) => f.subject), ['roles/templates/architect.md']);
    }));
});

describe('task files and locks', () => {
  test('a task file nested 200,000 levels deep is corrupt (STORE_CORRUPT, listed by doctor), not a stack overflow on every update', () =>
    withProject(async ({ project: dir }) => {
      const project = await open(dir);
      const layout = project.layout;
      let id = '';
      try {
        const plan = await project.orchestrator.planTask({ description: 'Deep', subtasks: [{ title: 'One', description: '', specialist_type: 'architect' }] });
        id = plan.parent_task_id;
        const file = path.join(layout.activeDir, `${id}.json`);
        const text = await readFile(file, 'utf8');
        const depth = 200_000;
        await writeFile(file, text.replace(/}\s*$/, `, "unknown": ${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`));
        const failure = await project.store.update(id, (p) => ({ ...p, context: 'changed' })).catch((error: unknown) => error);
        assert.ok(failure instanceof OrchestratorError, `an OrchestratorError, not ${String(failure)}`);
        assert.equal(failure.code, 'STORE_CORRUPT');
        assert.match(failure.message, /nested deeper than 64 levels/);
      } finally {
        await project.close();
      }
      const again = await open(dir);
      try {
        assert.deepEqual(again.store.problems().map((p) => [p.parent_task_id, p.kind]), [[id, 'corrupt']]);
      } finally {
        await again.close();
      }
      const findings = await diagnose(layout, { locks: new LockManager(layout.locksDir, defaultLockOptions()) });
      assert.deepEqual(findings.filter((f) => f.severity === 'problem').map((f) => [f.kind, f.parent_task_id]), [['corrupt_task_file', id]]);
    }));

  test('unknown fields nested 64 levels deep are kept and written back', () =>
    withProject(async ({ project: dir }) => {
      const project = await open(dir);
      try {
        const plan = await project.orchestrator.planTask({ description: 'Deep enough', subtasks: [{ title: 'One', description: '', specialist_type: 'architect' }] });
        const file = path.join(project.layout.activeDir, `${plan.parent_task_id}.json`);
        const nested = JSON.parse(`${'{"a":'.repeat(63)}1${'}'.repeat(63)}`); // 63 levels below the task's own object: 64 in all
        const parent = JSON.parse(await readFile(file, 'utf8'));
        await writeFile(file, serializeTaskFile({ ...parent, unknown: nested }));
        await project.store.update(plan.parent_task_id, (p) => ({ ...p, context: 'changed' }));
        assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).unknown, nested);
      } finally {
        await project.close();
      }
    }));

  test('a folder where a lock file belongs: STORAGE_ERROR at once naming it (not INTERNAL_ERROR, not a wait), the folder is kept', () =>
    withProject(async ({ project: dir }) => {
      const project = await open(dir);
      try {
        const plan = await project.orchestrator.planTask({ description: 'Locked out', subtasks: [{ title: 'One', description: '', specialist_type: 'architect' }] });
        const lock = path.join(project.layout.locksDir, `${plan.parent_task_id}.lock`);
        await mkdir(lock);
        const started = Date.now();
        const failure = await project.store.update(plan.parent_task_id, (p) => ({ ...p, context: 'changed' })).catch((error: unknown) => error);
        assert.ok(failure instanceof OrchestratorError, `an OrchestratorError, not ${String(failure)}`);
        assert.equal(failure.code, 'STORAGE_ERROR');
        assert.match(failure.message, /is a folder, not a lock file/);
        assert.ok(Date.now() - started < 2_000, 'refused at once, not after the lock timeout');
        assert.ok((await lstat(lock)).isDirectory(), 'left alone');
      } finally {
        await project.close();
      }
    }));
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { INSTALL_DIR } from '../../src/config.js';
import { connectInProcess, connectSpawned, readOnlyView, samplePlan, tempProject } from './harness.js';

/** Runs `work`, and removes /.task_orchestrator afterwards if `work` created it (only a regression would). */
async function guardingRoot(work: () => Promise<void>): Promise<void> {
  const root = path.join(path.parse(process.cwd()).root, '.task_orchestrator');
  const existed = existsSync(root);
  try {
    await work();
  } finally {
    if (!existed && existsSync(root)) await rm(root, { recursive: true, force: true });
  }
  assert.ok(existed || !existsSync(root), 'nothing may be created in the root folder');
}

describe('folders the server refuses', () => {
  test('MCP_TASK_ORCHESTRATOR_BASE_DIR naming a missing folder: NO_PROJECT_FOLDER naming the variable, the folder and why; nothing is created', async () => {
    const project = await tempProject();
    const missing = path.join(project.dir, 'not-yet', 'project');
    const server = await connectSpawned(project.dir, { MCP_TASK_ORCHESTRATOR_BASE_DIR: missing });
    try {
      for (const tool of ['orchestrator_get_status', 'orchestrator_initialize_session']) {
        const reply = await server.call(tool);
        assert.equal(reply.error?.code, 'NO_PROJECT_FOLDER', reply.text);
        assert.match(reply.text, /MCP_TASK_ORCHESTRATOR_BASE_DIR is ".*not-yet\/project", which cannot hold the tasks: it does not exist/);
      }
      assert.equal(existsSync(path.join(project.dir, 'not-yet')), false, 'the folder is not created');
      await mkdir(missing, { recursive: true });
      const later = await server.call('orchestrator_get_status');
      assert.equal(later.isError, false, `once the folder exists the server uses it: ${later.text}`);
    } finally {
      await server.close();
      await project.remove();
    }
  });

  test('MCP_TASK_ORCHESTRATOR_BASE_DIR=/ is refused with NO_PROJECT_FOLDER and /.task_orchestrator is not created', async () => {
    const project = await tempProject();
    await guardingRoot(async () => {
      const server = await connectSpawned(project.dir, { MCP_TASK_ORCHESTRATOR_BASE_DIR: '/' });
      try {
        const reply = await server.call('orchestrator_plan_task', samplePlan);
        assert.equal(reply.error?.code, 'NO_PROJECT_FOLDER', reply.text);
        assert.match(reply.text, /MCP_TASK_ORCHESTRATOR_BASE_DIR is "\/", which cannot hold the tasks: it is the root of the file system/);
      } finally {
        await server.close();
      }
    });
    await project.remove();
  });

  test('a file given as the project folder is "a file", not "does not exist"', async () => {
    const project = await tempProject();
    const file = path.join(project.dir, 'notes.txt');
    await writeFile(file, 'not a folder');
    const mcp = await connectInProcess(file);
    try {
      const reply = await mcp.call('orchestrator_get_status');
      assert.equal(reply.error?.code, 'NO_PROJECT_FOLDER', reply.text);
      assert.match(reply.text, /notes\.txt" cannot hold the tasks: it is a file, not a folder/);
      const moved = await mcp.call('orchestrator_initialize_session', { working_directory: file });
      assert.equal(moved.error?.code, 'INVALID_INPUT');
      assert.match(moved.text, /it is a file, not a folder/);
    } finally {
      await mcp.close();
      await project.remove();
    }
  });

  test('working_directory: a NUL character, the home folder and a link to the install folder are INVALID_INPUT with the reason', async () => {
    const project = await tempProject();
    const home = path.join(project.dir, 'home');
    await mkdir(home);
    const link = path.join(project.dir, 'link-to-install');
    await symlink(INSTALL_DIR, link);
    const installStore = path.join(INSTALL_DIR, '.task_orchestrator');
    const installStoreExisted = existsSync(installStore);
    const savedHome = process.env.HOME;
    process.env.HOME = home;
    const mcp = await connectInProcess(null);
    try {
      const nul = await mcp.call('orchestrator_initialize_session', { working_directory: `${project.dir}\0/x` });
      assert.equal(nul.error?.code, 'INVALID_INPUT', nul.text);
      assert.match(nul.text, /NUL character/);
      const atHome = await mcp.call('orchestrator_initialize_session', { working_directory: home });
      assert.equal(atHome.error?.code, 'INVALID_INPUT', atHome.text);
      assert.match(atHome.text, /home folder itself/);
      for (const dir of [link, path.join(link, 'src')]) {
        const installed = await mcp.call('orchestrator_initialize_session', { working_directory: dir });
        assert.equal(installed.error?.code, 'INVALID_INPUT', installed.text);
        assert.match(installed.text, /installed in/);
      }
      assert.equal(existsSync(installStore), installStoreExisted, 'nothing is created in the install folder');
      assert.equal(existsSync(path.join(home, '.task_orchestrator')), false);
    } finally {
      process.env.HOME = savedHome;
      await mcp.close();
      await project.remove();
    }
  });
});

describe('a read-only .task_orchestrator is served for reading', () => {
  let source: Awaited<ReturnType<typeof tempProject>>;
  let view: Awaited<ReturnType<typeof readOnlyView>>;
  let parentId: string;
  let pendingSubtask: string;
  let completedId: string;

  before(async () => {
    source = await tempProject();
    const mcp = await connectInProcess(source.dir);
    try {
      const plan = await mcp.call('orchestrator_plan_task', samplePlan);
      parentId = plan.data.parent_task_id;
      pendingSubtask = plan.data.execution_order[0];
      const done = await mcp.call('orchestrator_plan_task', { description: 'Tiny job', subtasks: [{ title: 'Do it', description: 'All of it', specialist_type: 'implementer' }] });
      completedId = done.data.parent_task_id;
      const only = done.data.execution_order[0];
      await mcp.call('orchestrator_execute_subtask', { task_id: only });
      await mcp.call('orchestrator_complete_subtask', { task_id: only, results: 'Done.' });
    } finally {
      await mcp.close();
    }
    // A completed task left in tasks/active/ (a crash before its archive move): reading it must not try to move it.
    const tasks = path.join(source.dir, '.task_orchestrator', 'tasks');
    await rename(path.join(tasks, 'archive', `${completedId}.json`), path.join(tasks, 'active', `${completedId}.json`));
    view = await readOnlyView(source.dir);
  });
  after(async () => {
    if ('dir' in view) await view.remove();
    await source.remove();
  });

  test('reads answer, changes get STORAGE_ERROR saying read-only (in process, through working_directory)', async (t) => {
    if (!('dir' in view)) return t.skip(view.unavailable);
    const mcp = await connectInProcess(null);
    try {
      const session = await mcp.call('orchestrator_initialize_session', { working_directory: view.dir });
      assert.equal(session.isError, false, session.text);
      assert.ok(session.data.active_tasks.some((task: any) => task.parent_task_id === parentId));
      const status = await mcp.call('orchestrator_get_status');
      assert.equal(status.isError, false, status.text);
      const synthesis = await mcp.call('orchestrator_synthesize_results', { parent_task_id: completedId });
      assert.equal(synthesis.isError, false, synthesis.text);
      assert.equal(synthesis.data.archived, false);
      const refusals = [
        await mcp.call('orchestrator_plan_task', samplePlan),
        await mcp.call('orchestrator_execute_subtask', { task_id: pendingSubtask }),
        await mcp.call('orchestrator_complete_subtask', { task_id: pendingSubtask, results: 'x' }),
      ];
      for (const reply of refusals) {
        assert.equal(reply.error?.code, 'STORAGE_ERROR', reply.text);
        assert.match(reply.text, /is read-only: its tasks can be read but not changed\. Nothing was changed/);
      }
      const history = await mcp.call('orchestrator_get_history', { task_id: parentId });
      assert.equal(history.isError, false, history.text);
      const report = await mcp.call('orchestrator_maintenance', { action: 'report' });
      assert.equal(report.isError, false, report.text);
      for (const action of ['release_expired_leases', 'archive_finished', 'repair']) {
        const reply = await mcp.call('orchestrator_maintenance', { action });
        assert.equal(reply.error?.code, 'STORAGE_ERROR', reply.text);
        assert.match(reply.text, /is read-only, so ".+" can change nothing\. Nothing was changed/);
      }
    } finally {
      await mcp.close();
    }
  });

  test('a server started in the read-only project folder serves it (no NO_PROJECT_FOLDER)', async (t) => {
    if (!('dir' in view)) return t.skip(view.unavailable);
    const server = await connectSpawned(view.dir);
    try {
      const status = await server.call('orchestrator_get_status');
      assert.equal(status.isError, false, status.text);
      assert.match(server.stderr(), /is read-only: tasks are served for reading/);
    } finally {
      await server.close();
    }
  });

  test('a read-only folder without .task_orchestrator/ is refused, saying so', async (t) => {
    if (!('dir' in view)) return t.skip(view.unavailable);
    const mcp = await connectInProcess(null);
    try {
      const reply = await mcp.call('orchestrator_initialize_session', { working_directory: path.join(view.dir, '.task_orchestrator', 'tasks') });
      assert.equal(reply.error?.code, 'INVALID_INPUT', reply.text);
      assert.match(reply.text, /it is read-only and holds no \.task_orchestrator\/ folder to read/);
    } finally {
      await mcp.close();
    }
  });
});

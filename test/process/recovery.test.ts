import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { connectSpawned } from '../mcp/harness.js';
import { killAll, sleep, startWorker, tempDir } from './helpers.js';

test('a crash right after the write that completes a parent (no journal line, no archive move): the next server start archives it', async () => {
  const project = await tempDir('orchestrator-recovery-');
  try {
    const worker = startWorker('crash-after-rename', [project.dir]);
    const id = (await worker.waitForLine(/^parent /, 60_000)).split(' ')[1]!;
    assert.equal((await worker.exited).signal, 'SIGKILL');
    const active = path.join(project.dir, '.task_orchestrator/tasks/active', `${id}.json`);
    const archived = path.join(project.dir, '.task_orchestrator/tasks/archive', `${id}.json`);
    assert.ok(existsSync(active), 'the completed parent was left in tasks/active/, as the crash leaves it');

    const server = await connectSpawned(project.dir);
    try {
      const session = await server.call('orchestrator_initialize_session');
      assert.equal(session.isError, false, session.text);
      for (let waited = 0; !existsSync(archived) && waited < 10_000; waited += 50) await sleep(50);
      assert.ok(existsSync(archived) && !existsSync(active), 'archived by the start-up recovery');
      const status = await server.call('orchestrator_get_status', { include_completed: true, parent_task_id: id });
      assert.equal(status.data.counts.completed, 1);
      assert.equal(status.data.parents.archived, 1);
    } finally {
      await server.close();
    }
  } finally {
    await killAll();
    await project.remove();
  }
});

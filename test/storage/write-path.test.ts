/**
 * The write path of execute_subtask and complete_subtask makes no thread-pool round trip: every call
 * in it (lock file, read, temp file, fsyncs, rename, journal) is made synchronously, because on a
 * loaded machine each round trip costs more than the call itself (see bench/results.md). A call that
 * completes before the event loop's next turn cannot have waited for the thread pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { openProject } from '../../src/compose/open-project.js';
import { silentLogger } from '../../src/logging/logger.js';

/** Whether `work` settles before a setImmediate scheduled just before it runs. */
async function settlesWithinOneTurn(work: () => Promise<unknown>): Promise<boolean> {
  let turned = false;
  const immediate = setImmediate(() => (turned = true));
  await work();
  clearImmediate(immediate);
  return !turned;
}

test('execute_subtask and complete_subtask write durably without leaving the current turn of the event loop', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-write-path-'));
  const project = await openProject(dir, readSettings({}), silentLogger);
  try {
    const { orchestrator } = project;
    const plan = await orchestrator.planTask({ description: 'Write path', subtasks: [{ title: 'One', specialist_type: 'architect' }, { title: 'Two', specialist_type: 'implementer' }] });
    const id = plan.subtasks[0]!.task_id;
    assert.ok(await settlesWithinOneTurn(() => orchestrator.executeSubtask({ task_id: id })), 'execute_subtask waited for the event loop');
    assert.ok(await settlesWithinOneTurn(() => orchestrator.completeSubtask({ task_id: id, results: 'done' })), 'complete_subtask waited for the event loop');
    const status = await orchestrator.getStatus({ parent_task_id: plan.parent_task_id });
    assert.equal(status.counts.completed, 1, 'and the change is there');
  } finally {
    await project.close();
    await rm(dir, { recursive: true, force: true });
  }
});

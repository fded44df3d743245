/**
 * Files written by the Python orchestrator (format 1.0: naive timestamps, results null, no owners)
 * dropped into tasks/active/: the all-completed one is archived by recovery untouched, the other is
 * listed with its active subtask reported as interrupted, can be worked to the end, and lands in
 * tasks/archive/ in format 2.0 with every original field kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { layoutFor } from '../../src/store/file/layout.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { names, ROOT, tempDir } from './helpers.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'python-v1');
const IN_PROGRESS = 'task_1a2b3c4d';
const ALL_DONE = 'task_9f8e7d6c';

type Json = Record<string, any>;

test('Python v1 task files load, recover, resume and finish in format 2.0 with every field kept', async () => {
  const project = await tempDir('python-v1');
  const layout = layoutFor(project.dir);
  try {
    await mkdir(layout.activeDir, { recursive: true });
    for (const id of [IN_PROGRESS, ALL_DONE]) await copyFile(path.join(FIXTURES, `${id}.json`), path.join(layout.activeDir, `${id}.json`));
    const originalText = await readFile(path.join(FIXTURES, `${IN_PROGRESS}.json`), 'utf8');
    const original = JSON.parse(originalText) as Json;
    const doneBytes = await readFile(path.join(FIXTURES, `${ALL_DONE}.json`));
    assert.equal(original.version, '1.0');
    assert.equal((JSON.parse(doneBytes.toString('utf8')) as Json).subtasks.every((s: Json) => s.status === 'completed'), true);

    const opened = await openProject(project.dir, readSettings({}), silentLogger);
    const { orchestrator } = opened;

    // Recovery archived the finished Python task, as it was (a move, not a rewrite).
    assert.deepEqual(opened.recovery?.archived, [ALL_DONE]);
    assert.deepEqual(await names(layout.activeDir), [`${IN_PROGRESS}.json`]);
    assert.deepEqual(await names(layout.archiveDir), [`${ALL_DONE}.json`]);
    assert.ok((await readFile(path.join(layout.archiveDir, `${ALL_DONE}.json`))).equals(doneBytes), 'the archived Python file must be unchanged');

    // The unfinished one is listed, and its active subtask (no owner recorded: Python's) is interrupted.
    const status = await orchestrator.getStatus({});
    assert.deepEqual(status.storage_problems, []);
    assert.deepEqual(status.tasks.map((r) => `${r.task_id}:${r.status}`).sort(), ['architect_1a2b3c:completed', 'documenter_7a8b9c:active', 'implementer_4d5e6f:pending']);
    assert.deepEqual(status.interrupted_subtasks.map((r) => r.task_id), ['documenter_7a8b9c']);
    assert.equal((await orchestrator.getStatus({ include_completed: true })).parents.archived, 1);
    const session = await orchestrator.initializeSession();
    assert.equal(session.active_task_count, 1);
    const view = session.active_tasks[0]!;
    assert.equal(view.parent_task_id, IN_PROGRESS);
    assert.deepEqual(view.interrupted_subtasks.map((s) => s.task_id), ['documenter_7a8b9c']);
    assert.equal(view.next_recommended_task?.task_id, 'implementer_4d5e6f');
    assert.match(session.resume_hint, /interrupted/);

    // Work it to the end with the Python subtask ids, as an assistant would after a restart.
    await orchestrator.executeSubtask({ task_id: 'implementer_4d5e6f' });
    const first = await orchestrator.completeSubtask({ task_id: 'implementer_4d5e6f', results: 'Middleware written and wired into the router.', artifacts: ['src/server/rate-limit.js'] });
    assert.equal(first.parent_completed, false);
    const resumed = await orchestrator.executeSubtask({ task_id: 'documenter_7a8b9c' });
    assert.equal(resumed.dependency_results[0]?.results, original.subtasks[0].results, 'the Python results are handed to the next specialist');
    const last = await orchestrator.completeSubtask({ task_id: 'documenter_7a8b9c', results: 'API guide updated with the limits and the 429 response.' });
    assert.equal(last.parent_completed, true);
    const synthesis = await orchestrator.synthesizeResults({ parent_task_id: IN_PROGRESS });
    assert.ok(JSON.stringify(synthesis).includes('Sliding-window limiter'));
    await opened.close();

    // It is archived, in format 2.0, with everything the Python file held.
    assert.deepEqual(await names(layout.activeDir), []);
    assert.deepEqual(await names(layout.archiveDir), [`${IN_PROGRESS}.json`, `${ALL_DONE}.json`]);
    const stored = JSON.parse(await readFile(path.join(layout.archiveDir, `${IN_PROGRESS}.json`), 'utf8')) as Json;
    assert.equal(stored.version, '2.0');
    for (const [key, value] of Object.entries(original)) {
      if (key === 'version' || key === 'subtasks') continue;
      assert.deepEqual(stored[key], value, `top-level ${key} changed`);
    }
    assert.equal(stored.created_at, '2025-05-30T10:15:00.123456', 'naive Python timestamps are kept as written');
    assert.equal(stored.status, 'completed');
    assert.equal(stored.subtasks.length, original.subtasks.length);
    const changedBySession = new Set(['status', 'results', 'completed_at', 'artifacts']);
    for (const before of original.subtasks as Json[]) {
      const after = (stored.subtasks as Json[]).find((s) => s.task_id === before.task_id);
      assert.ok(after, `subtask ${before.task_id} is gone`);
      for (const [key, value] of Object.entries(before)) {
        if (before.status !== 'completed' && changedBySession.has(key)) continue;
        assert.deepEqual(after[key], value, `${before.task_id}.${key} changed`);
      }
      assert.equal(after.status, 'completed');
      assert.equal(typeof after.completed_at, 'string');
    }
    const implementer = (stored.subtasks as Json[]).find((s) => s.task_id === 'implementer_4d5e6f')!;
    assert.equal(implementer.results, 'Middleware written and wired into the router.');
    assert.deepEqual(implementer.artifacts, ['src/server/rate-limit.js']);

    // A second start finds nothing to recover and nothing wrong.
    const again = await openProject(project.dir, readSettings({}), silentLogger);
    assert.deepEqual(again.recovery, { removedTempFiles: [], archived: [] });
    assert.deepEqual((await again.orchestrator.getStatus({ include_completed: true })).counts.completed, 6);
    await again.close();
  } finally {
    await project.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { openProject } from '../../src/compose/open-project.js';
import { silentLogger } from '../../src/logging/logger.js';

test('the file store reads a document back by the path saveDocument returned, and nothing outside tasks/work/', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-documents-'));
  const project = await openProject(dir, readSettings({}), silentLogger);
  try {
    const { orchestrator, store } = project;
    const plan = await orchestrator.planTask({ description: 'Documents', subtasks: [{ title: 'One', specialist_type: 'architect' }] });
    const id = plan.subtasks[0]!.task_id;
    await orchestrator.executeSubtask({ task_id: id });
    const done = await orchestrator.completeSubtask({ task_id: id, summary: 'done', detailed_work: 'long work. '.repeat(300) });
    assert.equal(done.detailed_work_file, `tasks/work/${plan.parent_task_id}/${id}.1.md`);
    assert.equal(await store.readDocument(done.detailed_work_file!), 'long work. '.repeat(300).trim());
    assert.equal(await store.readDocument(`tasks/work/${plan.parent_task_id}/${id}.2.md`), null, 'not written');
    await writeFile(path.join(dir, 'secret.md'), 'outside');
    for (const outside of ['../secret.md', 'tasks/work/../../secret.md', `tasks/work/${plan.parent_task_id}/../../../secret.md`, '/etc/hostname', 'tasks/active/x.json']) {
      assert.equal(await store.readDocument(outside), null, outside);
    }
  } finally {
    await project.close();
    await rm(dir, { recursive: true, force: true });
  }
});

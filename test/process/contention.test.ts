/**
 * Contention with real processes: six processes complete the sixty subtasks of ONE parent at the same
 * time, while three others create parents (two of them drawing ids from a space so small that they
 * collide all the time). Afterwards no update is lost, the revision counter equals the number of writes,
 * no id is used twice, no file was overwritten by another creator, and no lock or temp file is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { parseTaskFile } from '../../src/domain/task-file.js';
import type { ParentTask } from '../../src/domain/model.js';
import { layoutFor } from '../../src/store/file/layout.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { bundleWorker, expectCleanExit, killAll, names, startWorker, tempDir, tempFilesUnder, type Worker } from './helpers.js';

const COMPLETERS = 6;
const SUBTASKS = 60;
const NARROW_CREATORS = 2;
const PARENTS_PER_CREATOR = 12;
const ID_SPACE = 32; // 24 parents drawn from 32 ids: most draws after the first few collide
const PLANNED_BY_PLAN_CREATOR = 10;

async function readParent(file: string): Promise<ParentTask> {
  const parsed = parseTaskFile(await readFile(file, 'utf8'));
  assert.ok(parsed.ok, `${file} does not parse: ${parsed.ok ? '' : parsed.message}`);
  return parsed.value;
}

test(`${COMPLETERS} processes complete the ${SUBTASKS} subtasks of one parent while ${NARROW_CREATORS + 1} others create parents: no lost update, no duplicate id, nothing left behind`, { timeout: 120_000 }, async (t) => {
  const project = await tempDir('contention');
  const build = await tempDir('contention-build');
  const layout = layoutFor(project.dir);
  const workers: Worker[] = [];
  const started = Date.now();
  try {
    const [completeBundle, createBundle] = await Promise.all([bundleWorker('complete-share', build.dir), bundleWorker('create-parents', build.dir)]);
    const setup = await openProject(project.dir, readSettings({}), silentLogger);
    const plan = await setup.orchestrator.planTask({
      description: 'One parent shared by six processes',
      subtasks: Array.from({ length: SUBTASKS }, (_, i) => ({ title: `Independent step ${i + 1}`, specialist_type: i % 2 ? 'implementer' : 'tester' })),
    });
    await setup.close();
    const parentId = plan.parent_task_id;

    const completers = Array.from({ length: COMPLETERS }, (_, i) => startWorker('complete-share', [project.dir, parentId, String(i), String(COMPLETERS), String(SUBTASKS)], { bundle: completeBundle }));
    const creators = [
      ...Array.from({ length: NARROW_CREATORS }, (_, i) => startWorker('create-parents', ['narrow', project.dir, `narrow${i}`, String(PARENTS_PER_CREATOR), String(ID_SPACE)], { bundle: createBundle })),
      startWorker('create-parents', ['plan', project.dir, 'planner', String(PLANNED_BY_PLAN_CREATOR)], { bundle: createBundle }),
    ];
    workers.push(...completers, ...creators);
    await Promise.all(workers.map((w) => w.waitForLine(/^ready$/, 60_000)));
    const go = Date.now();
    for (const w of workers) w.send('go'); // all at the same moment
    await Promise.all(workers.map((w, i) => expectCleanExit(w, `worker ${i}`, 90_000)));
    const elapsed = Date.now() - go;

    // Every acknowledged write of the completers is in the one file, and nothing else was written to it.
    const acks = completers.flatMap((w) => w.lines.filter((l) => l.startsWith('ack ')));
    assert.equal(acks.length, 2 * SUBTASKS, 'each subtask is executed and completed once');
    assert.deepEqual(await names(layout.archiveDir), [`${parentId}.json`], 'the shared parent is archived once all its subtasks are completed');
    const shared = await readParent(path.join(layout.archiveDir, `${parentId}.json`));
    const lost = shared.subtasks.filter((s, k) => s.status !== 'completed' || s.results !== `worker ${k % COMPLETERS} completed ${parentId}.${k + 1}`);
    assert.deepEqual(lost.map((s) => `${s.task_id}: ${s.status} ${s.results}`), [], 'lost updates');
    assert.equal(shared.revision, 1 + 2 * SUBTASKS, 'revision = the plan + one per execute and per complete');
    assert.equal(shared.status, 'completed');
    assert.ok(shared.subtasks.every((s) => s.active_owner === null));

    // Creators: every acknowledged id is distinct, and its file holds what that creator wrote.
    const created = creators.flatMap((w) => w.lines.filter((l) => l.startsWith('created ')).map((l) => l.split(' ')));
    assert.equal(created.length, NARROW_CREATORS * PARENTS_PER_CREATOR + PLANNED_BY_PLAN_CREATOR);
    const ids = created.map((parts) => parts[1]!);
    assert.equal(new Set(ids).size, ids.length, `a parent id was handed out twice: ${ids.sort().join(' ')}`);
    for (const [, id, ...description] of created) {
      const parent = await readParent(path.join(layout.activeDir, `${id}.json`));
      assert.equal(parent.parent_task_id, id);
      assert.equal(parent.description, description.join(' '), `${id} was overwritten by another creator`);
    }
    assert.deepEqual(await names(layout.activeDir), ids.map((id) => `${id}.json`).sort(), 'tasks/active holds exactly the created parents');
    const draws = creators.slice(0, NARROW_CREATORS).reduce((n, w) => n + Number(w.lines.find((l) => l.startsWith('draws '))?.split(' ')[1]), 0);

    // Nothing left behind: no lock, no marker, no temp file.
    assert.deepEqual(await names(layout.locksDir), [], 'locks/ must be empty');
    assert.deepEqual(await tempFilesUnder(layout.root), [], 'temp files left');
    const expectedInTasks = new Set(['active', 'archive', 'work', 'journal.log', path.basename(layout.indexCacheFile)]);
    for (const name of await names(path.dirname(layout.activeDir))) assert.ok(expectedInTasks.has(name), `unexpected ${name} in tasks/`);

    // A fresh process sees it all through its index.
    const check = await openProject(project.dir, readSettings({}), silentLogger);
    const status = await check.orchestrator.getStatus({ parent_task_id: parentId });
    assert.equal(status.counts.completed, SUBTASKS);
    const overview = await check.orchestrator.getStatus({ include_completed: true, limit: 500 });
    assert.equal(overview.parents.active, created.length);
    assert.equal(overview.parents.archived, 1);
    assert.deepEqual(overview.storage_problems, []);
    await check.close();

    t.diagnostic(`${COMPLETERS} completers, ${creators.length} creators; ${acks.length} writes to one parent in ${elapsed} ms, revision ${shared.revision}, lost 0; ${created.length} parents created, ${draws - NARROW_CREATORS * PARENTS_PER_CREATOR} id collisions redrawn; total ${Date.now() - started} ms`);
  } finally {
    await killAll();
    await project.remove();
    await build.remove();
  }
});

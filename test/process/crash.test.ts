/**
 * Crash safety with real processes: a worker streams plan/execute/complete operations and is SIGKILLed
 * at a random moment, many times. After every kill: no task file is torn, every acknowledged change is
 * on disk, and opening the project (recovery) removes the dead writer's temp files, archives completed
 * parents left in tasks/active/, reports the interrupted subtasks, and lets the work be finished.
 *
 * CRASH_TRIALS (default 30) sets the number of kills; CRASH_SEED replays a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { isParentComplete } from '../../src/domain/lifecycle.js';
import type { ParentTask } from '../../src/domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../../src/domain/task-file.js';
import { problemWith } from '../../src/store/file/catalog.js';
import { tempFileOwnerPid } from '../../src/store/file/durable-fs.js';
import { layoutFor, type Layout } from '../../src/store/file/layout.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { bundleWorker, deadPid, killAll, names, type Worker, seededRandom, sleep, startWorker, tempDir, tempFilesUnder } from './helpers.js';

const TRIALS = Math.max(1, Number(process.env.CRASH_TRIALS ?? 30));
const LANES = 2; // two projects crashed side by side: the 2 cores stay busy and the wall time halves
const MAX_KILL_DELAY_MS = 600;
const SETTINGS = readSettings({ MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: '30000' });

interface ParentLedger {
  subtaskCount: number;
  /** Cleared once the test process wrote to this parent itself (resuming it): revisions are then no longer the worker's alone. */
  workerOnly: boolean;
  executed: Set<string>;
  /** task_id -> detailed_work_file ("-" when none) of each acknowledged completion. */
  completed: Map<string, string>;
}

interface Totals {
  trials: number;
  ackedOps: number;
  ackedPlans: number;
  ackedCompletions: number;
  tempFilesLeftByKill: number;
  tempFilesRemovedByRecovery: number;
  completedParentsLeftInActive: number;
  archivedByRecovery: number;
  unacknowledgedWritesFound: number;
  interruptedReported: number;
  deadLocksLeft: number;
}

/** The writer's pid of a temp file (durable write, index cache) or journal rotation file; null for other names. */
const ownerOfTemp = (name: string): number | null => tempFileOwnerPid(name);

/** Every task file of a folder, parsed; fails on a torn or unusable file. Temp files are returned apart. */
async function readFolder(dir: string, context: string): Promise<{ parents: Map<string, ParentTask>; temps: string[] }> {
  const parents = new Map<string, ParentTask>();
  const temps: string[] = [];
  for (const name of await names(dir)) {
    if (tempFileOwnerPid(name) !== null) {
      temps.push(path.join(dir, name));
      continue;
    }
    assert.ok(name.endsWith('.json') && !name.startsWith('.'), `${context}: unexpected file ${name} in ${dir}`);
    const text = await readFile(path.join(dir, name), 'utf8');
    const parsed = parseTaskFile(text);
    assert.ok(parsed.ok, `${context}: ${name} does not parse (torn file?): ${parsed.ok ? '' : parsed.message}\n${text.slice(0, 300)}`);
    const id = name.slice(0, -5);
    assert.equal(problemWith(id, parsed), null, `${context}: ${name} is unusable`);
    parents.set(id, parsed.value);
  }
  return { parents, temps };
}

async function readStore(layout: Layout, context: string, options: { afterKill?: boolean } = {}) {
  const active = await readFolder(layout.activeDir, context);
  const archive = await readFolder(layout.archiveDir, context);
  for (const id of active.parents.keys()) {
    if (!archive.parents.has(id)) continue;
    // Archiving links the file into tasks/archive/, then removes its name in tasks/active/: a kill between
    // the two leaves one file under both names, which recovery finishes like any completed parent left in
    // tasks/active/. Two different files, or both names outside that moment, would be a bug.
    const [a, b] = [await stat(path.join(layout.activeDir, `${id}.json`)), await stat(path.join(layout.archiveDir, `${id}.json`))];
    assert.ok(options.afterKill && a.ino === b.ino && a.dev === b.dev, `${context}: ${id} is in tasks/active and tasks/archive at once`);
  }
  const workTemps: string[] = [];
  for (const folder of await names(layout.workDir)) workTemps.push(...(await tempFilesUnder(path.join(layout.workDir, folder))));
  const lockTemps = (await names(layout.locksDir)).filter((n) => tempFileOwnerPid(n) !== null).map((n) => path.join(layout.locksDir, n));
  const tasksDir = path.dirname(layout.activeDir);
  const tasksTemps = (await names(tasksDir)).filter((n) => ownerOfTemp(n) !== null).map((n) => path.join(tasksDir, n));
  return { active: active.parents, archive: archive.parents, temps: [...active.temps, ...archive.temps, ...workTemps, ...lockTemps, ...tasksTemps] };
}

/** Every acknowledged plan exists, every acknowledged execute/complete is on disk, and nothing was written twice. */
async function checkAcknowledged(layout: Layout, ledger: Map<string, ParentLedger>, store: Awaited<ReturnType<typeof readStore>>, context: string, exactRevisions: boolean): Promise<number> {
  let unacknowledgedWrites = 0;
  for (const [id, entry] of ledger) {
    const parent = store.active.get(id) ?? store.archive.get(id);
    assert.ok(parent, `${context}: acknowledged plan ${id} is missing from tasks/`);
    assert.equal(parent.subtasks.length, entry.subtaskCount, `${context}: ${id} has the wrong number of subtasks`);
    for (const taskId of entry.executed) {
      const subtask = parent.subtasks.find((s) => s.task_id === taskId);
      assert.ok(subtask && (subtask.status === 'active' || subtask.status === 'completed'), `${context}: acknowledged execute of ${taskId} is lost (status ${subtask?.status})`);
    }
    for (const [taskId, workFile] of entry.completed) {
      const subtask: ParentTask['subtasks'][number] | undefined = parent.subtasks.find((s) => s.task_id === taskId);
      assert.ok(subtask && subtask.status === 'completed', `${context}: acknowledged completion of ${taskId} is lost (status ${subtask?.status})`);
      assert.equal(subtask.results, `result of ${taskId}`, `${context}: results of ${taskId}`);
      if (workFile !== '-') {
        assert.equal(subtask.detailed_work_file, workFile);
        const doc = await readFile(path.join(layout.root, workFile), 'utf8');
        assert.ok(doc.endsWith(`for ${taskId}`), `${context}: detailed work file of ${taskId} is torn`);
      }
    }
    if (exactRevisions && entry.workerOnly) {
      // Plan = revision 1, each acknowledged execute/complete +1; at most one more write was in flight at the kill.
      const acknowledged = 1 + entry.executed.size + entry.completed.size;
      const extra = (parent.revision ?? 0) - acknowledged;
      assert.ok(extra === 0 || extra === 1, `${context}: ${id} has revision ${parent.revision} after ${acknowledged} acknowledged writes`);
      unacknowledgedWrites += extra;
    }
  }
  return unacknowledgedWrites;
}

function applyAcks(lines: string[], ledger: Map<string, ParentLedger>): { ops: number; plans: number; completions: number } {
  let ops = 0;
  let plans = 0;
  let completions = 0;
  for (const line of lines) {
    const [word, kind, parentId, arg, workFile] = line.split(' ');
    if (word !== 'ack' || !parentId || !arg) continue;
    ops++;
    if (kind === 'plan') {
      ledger.set(parentId, { subtaskCount: Number(arg), workerOnly: true, executed: new Set(), completed: new Map() });
      plans++;
      continue;
    }
    const entry = ledger.get(parentId);
    assert.ok(entry, `ack for ${parentId} before its plan: ${line}`);
    if (kind === 'execute') entry.executed.add(arg);
    else if (kind === 'complete') {
      entry.completed.set(arg, workFile ?? '-');
      completions++;
    } else assert.fail(`unknown ack line: ${line}`);
  }
  return { ops, plans, completions };
}

async function runLane(lane: number, trials: number, seed: number, totals: Totals, bundle: string | null): Promise<void> {
  const project = await tempDir(`crash-${lane}`);
  const layout = layoutFor(project.dir);
  const random = seededRandom(seed + lane);
  const ledger = new Map<string, ParentLedger>();
  let worker: Worker | null = null;
  // The next worker is started while the current one runs: loading the code is most of a start.
  let next: Worker | null = startWorker('op-stream', [project.dir], { bundle });
  try {
    for (let trial = 0; trial < trials; trial++) {
      const context = `lane ${lane} trial ${trial} (seed ${seed})`;
      worker = next!;
      next = null;
      await worker.waitForLine(/^loaded$/, 30_000);
      worker.send(`go ${Math.floor(random() * 1e9)}`);
      await worker.waitForLine(/^ready /, 30_000);
      if (trial + 1 < trials) next = startWorker('op-stream', [project.dir], { bundle });
      await sleep(random() * MAX_KILL_DELAY_MS);
      await worker.kill();
      const exit: { code: number | null; signal: NodeJS.Signals | null } = await worker.exited;
      assert.equal(exit.signal, 'SIGKILL', `${context}: the worker ended by itself (${exit.code}) before the kill:\n${worker.stderr()}`);

      const acks = applyAcks(worker.lines, ledger);
      totals.trials++;
      totals.ackedOps += acks.ops;
      totals.ackedPlans += acks.plans;
      totals.ackedCompletions += acks.completions;

      // 1. Straight after the kill, before anyone repairs anything.
      const before = await readStore(layout, `${context}, after the kill`, { afterKill: true });
      totals.unacknowledgedWritesFound += await checkAcknowledged(layout, ledger, before, `${context}, after the kill`, true);
      for (const temp of before.temps) assert.equal(ownerOfTemp(path.basename(temp)), worker.pid, `${context}: temp file ${temp} is not the dead worker's`);
      totals.tempFilesLeftByKill += before.temps.length;
      const completedInActive = [...before.active.values()].filter(isParentComplete).map((p) => p.parent_task_id);
      totals.completedParentsLeftInActive += completedInActive.length;

      // 2. Opening the project runs recovery.
      const opened = await openProject(project.dir, SETTINGS, silentLogger);
      const report = opened.recovery;
      assert.ok(report, `${context}: recovery did not run`);
      assert.deepEqual([...report.removedTempFiles].sort(), [...before.temps].sort(), `${context}: recovery must remove exactly the dead worker's temp files`);
      assert.deepEqual([...report.archived].sort(), [...completedInActive].sort(), `${context}: recovery must archive the completed parents left in tasks/active/`);
      totals.tempFilesRemovedByRecovery += report.removedTempFiles.length;
      totals.archivedByRecovery += report.archived.length;
      assert.deepEqual(await tempFilesUnder(layout.root), [], `${context}: temp files left after recovery`);
      const after = await readStore(layout, `${context}, after recovery`);
      await checkAcknowledged(layout, ledger, after, `${context}, after recovery`, true);
      for (const parent of after.active.values()) assert.ok(!isParentComplete(parent), `${context}: completed ${parent.parent_task_id} still in tasks/active/`);

      // 3. The subtasks the dead worker left active are reported as interrupted.
      const status = await opened.orchestrator.getStatus({});
      assert.deepEqual(status.storage_problems, [], `${context}: storage problems after a crash`);
      const leftActive = [...after.active.values()].flatMap((p) => p.subtasks.filter((s) => s.status === 'active').map((s) => s.task_id)).sort();
      assert.deepEqual(status.interrupted_subtasks.map((r) => r.task_id).sort(), leftActive, `${context}: interrupted subtasks reported`);
      totals.interruptedReported += leftActive.length;

      // 4. The work can be finished: locks of the dead worker are taken over, interrupted subtasks re-run.
      for (const parent of after.active.values()) {
        for (const subtask of parent.subtasks) {
          if (subtask.status === 'completed') continue;
          await opened.orchestrator.executeSubtask({ task_id: subtask.task_id, force: true });
          await opened.orchestrator.completeSubtask({ task_id: subtask.task_id, results: `result of ${subtask.task_id}` });
        }
      }
      await opened.close();
      const finished = await readStore(layout, `${context}, after finishing`);
      assert.equal(finished.active.size, 0, `${context}: unfinished parents after resuming`);
      for (const [id, parent] of finished.archive) assert.ok(isParentComplete(parent), `${context}: archived ${id} is not complete`);
      for (const [id, entry] of ledger) {
        entry.workerOnly = false;
        for (let i = 0; i < entry.subtaskCount; i++) entry.completed.set(`${id}.${i + 1}`, entry.completed.get(`${id}.${i + 1}`) ?? '-');
      }
      await checkAcknowledged(layout, ledger, finished, `${context}, after finishing`, false);
    }
    // Lock files a killed worker held stay until someone needs that lock; they must all be the dead workers'.
    for (const name of await names(layout.locksDir)) {
      assert.ok(name.endsWith('.lock'), `unexpected ${name} in locks/`);
      const owner = JSON.parse(await readFile(path.join(layout.locksDir, name), 'utf8')) as { pid: number };
      assert.notEqual(owner.pid, process.pid, 'the test process left a lock behind');
      totals.deadLocksLeft++;
    }
  } finally {
    await worker?.kill();
    await next?.kill();
    await project.remove();
  }
}

test(`SIGKILL at ${TRIALS} random moments: no torn file, no lost acknowledged change, recovery finishes the rest`, { timeout: 180_000 }, async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 1e9));
  const totals: Totals = { trials: 0, ackedOps: 0, ackedPlans: 0, ackedCompletions: 0, tempFilesLeftByKill: 0, tempFilesRemovedByRecovery: 0, completedParentsLeftInActive: 0, archivedByRecovery: 0, unacknowledgedWritesFound: 0, interruptedReported: 0, deadLocksLeft: 0 };
  const started = Date.now();
  const build = await tempDir('crash-build');
  try {
    const bundle = await bundleWorker('op-stream', build.dir);
    if (!bundle) t.diagnostic('esbuild is not available: the workers run under tsx (slower starts)');
    const perLane = Array.from({ length: LANES }, (_, lane) => Math.floor(TRIALS / LANES) + (lane < TRIALS % LANES ? 1 : 0));
    const results = await Promise.allSettled(perLane.map((trials, lane) => runLane(lane, trials, seed, totals, bundle)));
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  } finally {
    await killAll();
    await build.remove();
    t.diagnostic(`seed ${seed}; ${JSON.stringify(totals)}; ${Date.now() - started} ms`);
  }
  assert.equal(totals.trials, TRIALS);
  assert.ok(totals.ackedOps > TRIALS, `the workers acknowledged too few operations (${totals.ackedOps}) for the test to mean anything`);
});

test('recovery removes a dead writer\'s temp files, archives a completed parent left in tasks/active/, and takes over its lock', async () => {
  const project = await tempDir('crash-recovery');
  const layout = layoutFor(project.dir);
  try {
    const first = await openProject(project.dir, SETTINGS, silentLogger);
    const plan = await first.orchestrator.planTask({ description: 'Left complete in active', subtasks: [{ title: 'Only step', specialist_type: 'implementer' }] });
    const unfinished = await first.orchestrator.planTask({ description: 'Still open', subtasks: [{ title: 'Open step', specialist_type: 'tester' }] });
    await first.close();
    // Forge what a writer killed between its write and the archive move leaves: a completed parent in active,
    const id = plan.parent_task_id;
    const activeFile = path.join(layout.activeDir, `${id}.json`);
    const parsed = parseTaskFile(await readFile(activeFile, 'utf8'));
    assert.ok(parsed.ok);
    const done: ParentTask = { ...parsed.value, status: 'completed', subtasks: parsed.value.subtasks.map((s) => ({ ...s, status: 'completed', results: 'done', completed_at: new Date().toISOString() })) };
    await writeFile(activeFile, serializeTaskFile(done));
    // its half-written temp files (in tasks/active/, tasks/work/ and tasks/ itself),
    const dead = await deadPid();
    const tempName = `.${id}.json.${dead}.0123456789ab.tmp`;
    await writeFile(path.join(layout.activeDir, tempName), '{"version": "2.0", "parent_task');
    await mkdir(path.join(layout.workDir, id), { recursive: true });
    await writeFile(path.join(layout.workDir, id, `.${id}.1.md.${dead}.ba9876543210.tmp`), 'half');
    await writeFile(path.join(path.dirname(layout.activeDir), `.index-cache.json.${dead}.00ff00ff00ff.tmp`), '{"format"');
    await writeFile(path.join(path.dirname(layout.activeDir), `.journal.log.${dead}.0a1b2c3d4e5f.tmp`), '');
    // and the lock it held on the other parent.
    const lockFile = path.join(layout.locksDir, `${unfinished.parent_task_id}.lock`);
    await writeFile(lockFile, JSON.stringify({ pid: dead, host: os.hostname(), token: 'deadbeef', acquired_at: new Date().toISOString() }));
    // A temp file of a live process is not touched, unless it is older than an hour.
    const liveTemp = path.join(layout.activeDir, `.${unfinished.parent_task_id}.json.${process.ppid}.00000000000a.tmp`);
    await writeFile(liveTemp, 'in progress');

    const second = await openProject(project.dir, SETTINGS, silentLogger);
    assert.deepEqual(second.recovery?.archived, [id]);
    assert.equal(second.recovery?.removedTempFiles.length, 4, `removed: ${second.recovery?.removedTempFiles.join(', ')}`);
    assert.deepEqual(await tempFilesUnder(layout.root), [liveTemp]);
    assert.ok(!(await names(path.dirname(layout.activeDir))).some((n) => n.startsWith('.journal.log.')), 'the journal rotation temp file must be removed');
    assert.deepEqual(await names(layout.activeDir), [`.${unfinished.parent_task_id}.json.${process.ppid}.00000000000a.tmp`, `${unfinished.parent_task_id}.json`]);
    assert.deepEqual(await names(layout.archiveDir), [`${id}.json`]);
    const archived = parseTaskFile(await readFile(path.join(layout.archiveDir, `${id}.json`), 'utf8'));
    assert.ok(archived.ok && isParentComplete(archived.value));

    // The dead owner's lock is taken over at once, not after the stale bound.
    const subtaskId = unfinished.subtasks[0]!.task_id;
    const t0 = Date.now();
    await second.orchestrator.executeSubtask({ task_id: subtaskId });
    assert.ok(Date.now() - t0 < 1_000, `taking over a dead owner's lock took ${Date.now() - t0} ms`);
    await second.orchestrator.completeSubtask({ task_id: subtaskId, results: 'finished after the crash' });
    await second.close();
    assert.deepEqual(await names(layout.locksDir), []);

    // The live process's temp file goes once it is older than an hour (pids are reused).
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(liveTemp, old, old);
    const third = await openProject(project.dir, SETTINGS, silentLogger);
    assert.deepEqual(third.recovery?.removedTempFiles, [liveTemp]);
    await third.close();
  } finally {
    await project.remove();
  }
});

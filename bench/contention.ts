/**
 * Contention: N server processes on one project, each driven by its own client, completing subtasks
 * at the same time, on separate parents and on one shared parent. Every setting runs twice, in the
 * order 1, 2, 4, 8 and then 8, 4, 2, 1, so that drift of the machine does not favour one of them.
 * Afterwards every acknowledged completion is checked on disk: its results must be there, and each
 * parent's revision must have grown by exactly the number of acknowledged changes (a lost update
 * shows as a shortfall).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchConfig, Mode } from './config.js';
import { idMaker, makeParent, projectDirs, rng, writeParents, type GeneratedParent } from './generate.js';
import { callOk, cpuMsOf, spawnOrchestrator, type Server } from './mcp.js';

interface Op {
  /** The setting it belongs to, e.g. "shared x4", or "warm-up". */
  run: string;
  parentId: string;
  taskId: string;
  results: string;
}

interface Run {
  mode: Mode;
  processes: number;
  /** ops[j]: what process j completes, in order. */
  ops: Op[][];
}

export interface ContentionResult {
  mode: Mode;
  processes: number;
  ops: number;
  seconds: number;
  throughput: number;
  latencies: number[];
  errors: number;
  errorSamples: string[];
  /** CPU time of the server processes and of the bench (the clients) per operation, in ms. */
  serverCpuPerOp: number;
  clientCpuPerOp: number;
  /** Acknowledged completions whose results are not on disk, or revision shortfalls, whichever is larger. */
  lost: number;
  /** Parents whose revision grew by more than the acknowledged changes (a write nobody was told about). */
  unacknowledgedWrites: number;
}

const SEPARATE_SUBTASKS = 6; // complete 5, leave 1 pending: the parent stays active (no archive move)
const REPEATS = 2;

const key = (mode: Mode, n: number) => `${mode} x${n}`;

export async function runContention(config: BenchConfig, workDir: string, progress: (msg: string) => void): Promise<ContentionResult[]> {
  const project = path.join(workDir, 'contention');
  const random = rng(4242);
  const nextId = idMaker(random);
  const parents: GeneratedParent[] = [];
  const fresh = (subtaskCount: number) => {
    const parent = makeParent(random, 'active', nextId(), { subtaskCount, completed: 0 });
    parents.push({ parent, kind: 'active' });
    return parent;
  };
  const perRepeat = config.contentionOps / REPEATS;
  const plan = (mode: Mode, n: number): Run => {
    if (perRepeat % n !== 0) throw new Error(`contentionOps / ${REPEATS} = ${perRepeat} is not divisible by ${n}`);
    const perProcess = perRepeat / n;
    const ops: Op[][] = Array.from({ length: n }, () => []);
    const run = key(mode, n);
    const tag = (j: number, k: number) => `Completed by process ${j} of ${n} (${mode}), op ${k}: the change is in and its tests pass.`;
    if (mode === 'separate') {
      for (let j = 0; j < n; j++) {
        let parent = fresh(SEPARATE_SUBTASKS);
        let used = 0;
        for (let k = 0; k < perProcess; k++) {
          if (used === SEPARATE_SUBTASKS - 1) {
            parent = fresh(SEPARATE_SUBTASKS);
            used = 0;
          }
          ops[j]!.push({ run, parentId: parent.parent_task_id, taskId: parent.subtasks[used++]!.task_id, results: `${tag(j, k)} ${parent.parent_task_id}` });
        }
      }
    } else {
      const perParent = config.sharedSubtasks;
      if (perRepeat % perParent !== 0 || perParent % n !== 0) throw new Error('sharedSubtasks must divide contentionOps / 2 and be divisible by each process count');
      const count = new Array<number>(n).fill(0);
      for (let p = 0; p < perRepeat / perParent; p++) {
        const parent = fresh(perParent + 1); // one left pending: no archive move
        for (let s = 0; s < perParent; s++) {
          const j = s % n;
          ops[j]!.push({ run, parentId: parent.parent_task_id, taskId: parent.subtasks[s]!.task_id, results: `${tag(j, count[j]!++)} ${parent.parent_task_id}` });
        }
      }
    }
    return { mode, processes: n, ops };
  };
  const order: Run[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const counts = repeat % 2 === 0 ? config.processCounts : [...config.processCounts].reverse();
    for (const mode of ['separate', 'shared'] as const) for (const n of counts) order.push(plan(mode, n));
  }
  const maxProcesses = Math.max(...config.processCounts);
  const warmups = Array.from({ length: maxProcesses }, () => fresh(SEPARATE_SUBTASKS));
  await writeParents(project, parents);
  await writeFile(path.join(project, '.task_orchestrator', 'tasks', 'journal.log'), '');
  const initialRevision = new Map(parents.map(({ parent }) => [parent.parent_task_id, parent.revision ?? 0]));

  progress(`contention: starting ${maxProcesses} server processes on one project`);
  const servers: Server[] = await Promise.all(Array.from({ length: maxProcesses }, () => spawnOrchestrator(project)));
  const totals = new Map<string, ContentionResult>();
  const acked: Op[] = [];
  try {
    // Warm every server on the write path before timing anything.
    await Promise.all(
      servers.map(async (server, j) => {
        await callOk(server, 'orchestrator_initialize_session', {});
        for (const subtask of warmups[j]!.subtasks.slice(0, 3)) {
          const op = { run: 'warm-up', parentId: warmups[j]!.parent_task_id, taskId: subtask.task_id, results: `warm-up by process ${j}` };
          await callOk(server, 'orchestrator_complete_subtask', { task_id: op.taskId, results: op.results, force: true });
          acked.push(op);
        }
      }),
    );
    for (const run of order) {
      const total = totals.get(key(run.mode, run.processes)) ?? { mode: run.mode, processes: run.processes, ops: 0, seconds: 0, throughput: 0, latencies: [], errors: 0, errorSamples: [], serverCpuPerOp: 0, clientCpuPerOp: 0, lost: 0, unacknowledgedWrites: 0 };
      totals.set(key(run.mode, run.processes), total);
      const serverCpuBefore = await Promise.all(servers.map((s) => cpuMsOf(s.pid)));
      const clientCpuBefore = process.cpuUsage();
      const start = performance.now();
      await Promise.all(
        run.ops.map(async (ops, j) => {
          const server = servers[j]!;
          for (const op of ops) {
            // force: the generated parents have dependencies, and this measures contention on writes, not the dependency rule.
            const reply = await server.call('orchestrator_complete_subtask', { task_id: op.taskId, results: op.results, force: true });
            total.latencies.push(reply.ms);
            if (reply.isError || reply.data?.status !== 'completed') {
              total.errors++;
              if (total.errorSamples.length < 3) total.errorSamples.push(reply.text.slice(0, 300));
            } else acked.push(op);
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      const clientCpu = process.cpuUsage(clientCpuBefore);
      const serverCpuAfter = await Promise.all(servers.map((s) => cpuMsOf(s.pid)));
      const ops = run.ops.reduce((n, o) => n + o.length, 0);
      const serverCpu = serverCpuAfter.reduce((sum, v, i) => sum + (v - serverCpuBefore[i]!), 0);
      // Running sums; turned into per-op figures below.
      total.serverCpuPerOp += serverCpu;
      total.clientCpuPerOp += (clientCpu.user + clientCpu.system) / 1000;
      total.ops += ops;
      total.seconds += seconds;
      progress(`contention ${key(run.mode, run.processes)}: ${(ops / seconds).toFixed(0)} ops/s, server CPU ${(serverCpu / ops).toFixed(1)} ms/op${total.errors ? `, ${total.errors} errors so far` : ''}`);
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
  const results = config.processCounts.length ? (['separate', 'shared'] as const).flatMap((mode) => config.processCounts.map((n) => totals.get(key(mode, n))!)) : [];
  for (const r of results) {
    r.throughput = r.ops / r.seconds;
    r.serverCpuPerOp /= r.ops;
    r.clientCpuPerOp /= r.ops;
  }

  // Verify on disk, after every server has exited.
  const dirs = projectDirs(project);
  const onDisk = new Map<string, any>();
  for (const id of new Set(acked.map((op) => op.parentId))) onDisk.set(id, await readParent(dirs, id));
  const lostByRun = new Map<string, number>();
  for (const op of acked) {
    const subtask = onDisk.get(op.parentId)?.subtasks?.find((s: { task_id: string }) => s.task_id === op.taskId);
    if (!subtask || subtask.status !== 'completed' || subtask.results !== op.results) lostByRun.set(op.run, (lostByRun.get(op.run) ?? 0) + 1);
  }
  const ackedPerParent = new Map<string, { run: string; count: number }>();
  for (const op of acked) ackedPerParent.set(op.parentId, { run: op.run, count: (ackedPerParent.get(op.parentId)?.count ?? 0) + 1 });
  const revisionGap = new Map<string, { short: number; over: number }>();
  for (const [id, { run, count }] of ackedPerParent) {
    const grew = (onDisk.get(id)?.revision ?? 0) - (initialRevision.get(id) ?? 0);
    const gap = revisionGap.get(run) ?? { short: 0, over: 0 };
    if (grew < count) gap.short += count - grew;
    if (grew > count) gap.over += 1;
    revisionGap.set(run, gap);
  }
  for (const r of results) {
    const k = key(r.mode, r.processes);
    r.lost = Math.max(lostByRun.get(k) ?? 0, revisionGap.get(k)?.short ?? 0);
    r.unacknowledgedWrites = revisionGap.get(k)?.over ?? 0;
  }
  // Warm-up completions are single-writer work like "separate x1": a loss there is counted there.
  const warmupLost = Math.max(lostByRun.get('warm-up') ?? 0, revisionGap.get('warm-up')?.short ?? 0);
  const single = results.find((r) => r.mode === 'separate' && r.processes === 1);
  if (single) single.lost += warmupLost;
  return results;
}

async function readParent(dirs: { active: string; archive: string }, id: string): Promise<any> {
  for (const dir of [dirs.active, dirs.archive]) {
    try {
      return JSON.parse(await readFile(path.join(dir, `${id}.json`), 'utf8'));
    } catch {
      // not in this folder
    }
  }
  return null;
}

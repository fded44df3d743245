/**
 * Scale: projects with many parents written straight to disk, then cold starts (interleaved with the
 * minimal server's, so both see the same noise), get_status and complete_subtask latencies, reply size
 * and resident memory of the server.
 */
import { link, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchConfig, Scale } from './config.js';
import { checkFormat, placeParents, projectDirs, scaleParents, writeParents, type GeneratedParent } from './generate.js';
import { callOk, memoryOf, spawnOrchestrator, spawnServer } from './mcp.js';
import { median } from './stats.js';

export interface ScaleData {
  scale: Scale;
  dir: string;
  /** Subtasks whose completion leaves their parent unfinished (no archive move), one per parent. */
  completable: string[];
}

export interface ScaleResult {
  scale: Scale;
  coldStarts: number[];
  getStatus: number[];
  getStatusBytes: number;
  getStatusTextBytes: number;
  complete: number[];
  rss: number;
  /** First get_status with include_completed: indexes the archive. */
  archiveIndexMs: number;
  rssWithArchive: number;
  peakRss: number;
}

export interface ColdStartResult {
  minimal: number[];
  perScale: number[][];
  /** The unmeasured first start of each scale: no index cache or compile cache from an earlier start yet. */
  firstPerScale: number[];
}

/** Writes every scale's project: the largest is generated, smaller ones hard-link a prefix of its files. */
export async function prepareScales(config: BenchConfig, workDir: string, progress: (msg: string) => void): Promise<{ data: ScaleData[]; meanFileBytes: number; seconds: number }> {
  const start = performance.now();
  const maxActive = Math.max(...config.scales.map((s) => s.active));
  const maxArchived = Math.max(...config.scales.map((s) => s.archived));
  const { active, archived } = scaleParents(maxActive, maxArchived);
  const meanFileBytes = checkFormat([...active.slice(0, 2000), ...archived.slice(0, 2000)]);
  const sorted = [...config.scales].sort((a, b) => b.active + b.archived - (a.active + a.archived));
  const data: ScaleData[] = [];
  let source: { dir: string; scale: Scale } | null = null;
  for (const scale of sorted) {
    const dir = path.join(workDir, `scale-${scale.active}-${scale.archived}`);
    const parents: GeneratedParent[] = [...active.slice(0, scale.active), ...archived.slice(0, scale.archived)];
    progress(`writing ${scale.active.toLocaleString('en-US')} active + ${scale.archived.toLocaleString('en-US')} archived task files to ${path.relative(process.cwd(), dir)}`);
    if (source) await linkParents(source.dir, dir, parents);
    else await writeParents(dir, parents);
    // An established project has a journal: without one the first write after start triggers a full rescan.
    await writeFile(path.join(dir, '.task_orchestrator', 'tasks', 'journal.log'), '');
    if (!source) source = { dir, scale };
    data.push({ scale, dir, completable: completableSubtasks(active.slice(0, scale.active)) });
  }
  return { data: config.scales.map((s) => data.find((d) => d.scale === s)!), meanFileBytes, seconds: (performance.now() - start) / 1000 };
}

async function linkParents(fromDir: string, toDir: string, parents: readonly GeneratedParent[]): Promise<void> {
  const from = projectDirs(fromDir);
  // The server replaces files by rename, never in place, so sharing inodes between projects is safe.
  await placeParents(toDir, parents, 32, (_parent, file, kind) => link(path.join(kind === 'active' ? from.active : from.archive, path.basename(file)), file));
}

function completableSubtasks(active: readonly GeneratedParent[]): string[] {
  const ids: string[] = [];
  for (const { parent } of active) {
    const open = parent.subtasks.filter((s) => s.status !== 'completed');
    if (open.length >= 2) ids.push(open[0]!.task_id);
  }
  return ids;
}

/** Cold starts, spawn to first answer: minimal server (trivial tool), then each scale (initialize_session), repeated. */
export async function runColdStarts(config: BenchConfig, data: ScaleData[], minimalServer: string, progress: (msg: string) => void): Promise<ColdStartResult> {
  const result: ColdStartResult = { minimal: [], perScale: data.map(() => []), firstPerScale: [] };
  // One unmeasured start of each first: later starts find what a restarted server finds (page cache,
  // and whatever the server keeps between runs, such as an index cache); the first is reported apart.
  const rounds = config.coldStarts + 1;
  for (let round = 0; round < rounds; round++) {
    const measured = round > 0;
    {
      const start = performance.now();
      const server = await spawnServer({ args: [minimalServer] });
      await callOk(server, 'ping', {});
      if (measured) result.minimal.push(performance.now() - start);
      await server.close();
    }
    for (const [i, d] of data.entries()) {
      const start = performance.now();
      const server = await spawnOrchestrator(d.dir);
      await callOk(server, 'orchestrator_initialize_session', {});
      if (measured) result.perScale[i]!.push(performance.now() - start);
      else result.firstPerScale.push(performance.now() - start);
      await server.close();
    }
    progress(`cold starts round ${round + 1}/${rounds}${measured ? '' : ' (first starts, not counted)'}: minimal ${ms(result.minimal.at(-1))}, ${data.map((d, i) => `${d.scale.name} ${ms(measured ? result.perScale[i]!.at(-1) : result.firstPerScale[i])}`).join(', ')}`);
  }
  return result;
}

const ms = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(0)} ms`);

/** One long-running server per scale: get_status and complete_subtask interleaved, then memory. */
export async function runScaleWorkload(config: BenchConfig, d: ScaleData, progress: (msg: string) => void): Promise<Omit<ScaleResult, 'coldStarts'>> {
  const server = await spawnOrchestrator(d.dir);
  try {
    await callOk(server, 'orchestrator_initialize_session', {});
    const first = await callOk(server, 'orchestrator_get_status', {});
    const problems = first.data?.storage_problems ?? [];
    if (problems.length) throw new Error(`the server cannot use ${problems.length} generated task file(s), e.g. ${JSON.stringify(problems[0])}: update bench/generate.ts to the current format`);
    if (first.data?.parents?.active !== d.scale.active) throw new Error(`the server sees ${first.data?.parents?.active} active parents, not ${d.scale.active}`);
    const warmup = config.smoke ? 2 : 10;
    const getStatus: number[] = [];
    const complete: number[] = [];
    let bytes = 0;
    let textBytes = 0;
    if (d.completable.length < warmup + config.scaleCalls) throw new Error(`only ${d.completable.length} completable subtasks at ${d.scale.name}`);
    for (let i = 0; i < warmup + config.scaleCalls; i++) {
      const status = await callOk(server, 'orchestrator_get_status', {});
      const done = await callOk(server, 'orchestrator_complete_subtask', { task_id: d.completable[i]!, results: `Done at scale, call ${i}: the change is in and its tests pass.` });
      if (i >= warmup) {
        getStatus.push(status.ms);
        complete.push(done.ms);
      }
      bytes = status.bytes;
      textBytes = Buffer.byteLength(status.text);
    }
    const memory = await memoryOf(server.pid);
    const start = performance.now();
    await callOk(server, 'orchestrator_get_status', { include_completed: true, limit: 1 });
    const archiveIndexMs = performance.now() - start;
    const withArchive = await memoryOf(server.pid);
    progress(`${d.scale.name}: get_status p50 ${median(getStatus).toFixed(1)} ms, complete_subtask p50 ${median(complete).toFixed(1)} ms, RSS ${((memory?.rss ?? 0) / 2 ** 20).toFixed(0)} MiB`);
    return {
      scale: d.scale,
      getStatus,
      getStatusBytes: bytes,
      getStatusTextBytes: textBytes,
      complete,
      rss: memory?.rss ?? Number.NaN,
      archiveIndexMs,
      rssWithArchive: withArchive?.rss ?? Number.NaN,
      peakRss: withArchive?.peak ?? Number.NaN,
    };
  } finally {
    await server.close();
  }
}

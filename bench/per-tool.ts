/**
 * Floor and per-tool latencies, in one interleaved run so that both see the same machine noise:
 * after every call to the real server, one trivial call to the minimal server, and after every call
 * that writes, one durable replacement of a task-sized file beside the project (synchronous calls and
 * fs/promises taking turns).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TOOLS, WRITE_TOOLS, type BenchConfig, type ToolName } from './config.js';
import { durableReplaceSync, FLOOR_KINDS, timeDurableReplace, type FloorKind } from './durable.js';
import { makeParent, rng } from './generate.js';
import { callOk, memoryOf, spawnOrchestrator, spawnServer, type Reply } from './mcp.js';
import { serializeTaskFile } from '../src/domain/task-file.js';

export interface PerToolResult {
  /** Round trips of the minimal server's trivial tool. */
  floorRoundTrip: number[];
  /** Durable replacements of a task-sized file: synchronous calls (the reference) and fs/promises. */
  durable: Record<FloorKind, number[]>;
  durableFileBytes: number;
  tools: Record<ToolName, number[]>;
  /** complete_subtask calls that completed a parent's last subtask, which archives it. */
  completeArchiving: number[];
  /** Reply sizes in bytes per tool (last call). */
  replyBytes: Partial<Record<ToolName, number>>;
  /** Resident memory (VmRSS) of the minimal server and of the real one at the end of the phase, in bytes. */
  minimalRss: number;
  realRss: number;
  /** Active parents in the real server's project at the end of the phase. */
  activeParents: number;
}

export const PLAN = {
  description: 'Add CSV export to the reports page, with a download button and a background job for large reports',
  context: 'TypeScript monorepo; reports live in packages/reports; keep the public API unchanged; tests use node:test.',
  complexity_level: 'moderate',
  subtasks: [
    { task_id: 'design', title: 'Design the export', description: 'Decide the CSV dialect, the API and the job model for large reports.', specialist_type: 'architect', estimated_effort: '1 hour' },
    { task_id: 'build', title: 'Implement the export', description: 'Write the exporter, the endpoint and the background job.', specialist_type: 'implementer', dependencies: ['design'], estimated_effort: '3 hours' },
    { task_id: 'test', title: 'Test the export', description: 'Unit tests for escaping and an end-to-end test of the download.', specialist_type: 'tester', dependencies: ['build'], estimated_effort: '2 hours' },
    { task_id: 'docs', title: 'Document the export', description: 'Update the user guide and the API reference.', specialist_type: 'documenter', dependencies: ['design'], estimated_effort: '1 hour' },
    { task_id: 'review', title: 'Review the export', description: 'Review the change for correctness, security and performance.', specialist_type: 'reviewer', dependencies: ['test', 'docs'], estimated_effort: '1 hour' },
  ],
};

export const RESULTS =
  'Implemented as planned. The exporter streams rows through a CSV encoder that quotes fields containing commas, quotes or newlines; ' +
  'reports over 10,000 rows go to a background job whose result is stored for 24 hours. Tests cover escaping, empty reports and the job path.';

export async function runPerTool(config: BenchConfig, workDir: string, minimalServer: string, progress: (msg: string) => void): Promise<PerToolResult> {
  const project = path.join(workDir, 'per-tool');
  await mkdir(project, { recursive: true });
  // Beside the project, on the same file system, but not in its task folders (the server would see it).
  const durableTarget = path.join(workDir, 'floor', 'task_00000f1000.json');
  const sample = makeParent(rng(7), 'active', 'task_00000f1000', { subtaskCount: 5 });
  const durableData = serializeTaskFile(sample);
  await mkdir(path.dirname(durableTarget), { recursive: true });
  durableReplaceSync(durableTarget, durableData); // so that every timed rename replaces a file, as a tool's does

  const real = await spawnOrchestrator(project);
  const minimal = await spawnServer({ args: [minimalServer] });
  const result: PerToolResult = {
    floorRoundTrip: [],
    durable: { sync: [], async: [] },
    durableFileBytes: Buffer.byteLength(durableData),
    tools: Object.fromEntries(TOOLS.map((t) => [t, []])) as unknown as Record<ToolName, number[]>,
    completeArchiving: [],
    replyBytes: {},
    minimalRss: Number.NaN,
    realRss: Number.NaN,
    activeParents: 0,
  };
  try {
    let measuring = false;
    let floorWrites = 0;
    const call = async (tool: ToolName, args: Record<string, unknown>, into?: number[]): Promise<Reply> => {
      const reply = await callOk(real, tool, args);
      const ping = await minimal.call('ping', {});
      if (measuring) {
        (into ?? result.tools[tool]).push(reply.ms);
        result.floorRoundTrip.push(ping.ms);
        result.replyBytes[tool] = reply.bytes;
        // A durable replacement right after each write, so the floor meets the same disk and machine
        // load as the tool calls do; the two kinds take turns.
        if (WRITE_TOOLS.has(tool)) {
          const kind = FLOOR_KINDS[floorWrites++ % FLOOR_KINDS.length]!;
          result.durable[kind].push(await timeDurableReplace(kind, durableTarget, durableData));
        }
      }
      return reply;
    };
    const warmupRounds = config.smoke ? 1 : 3;
    const lastSubtasks: string[] = [];
    const rounds = warmupRounds + config.toolRounds;
    for (let round = 0; round < rounds; round++) {
      measuring = round >= warmupRounds;
      const plan = await call('orchestrator_plan_task', PLAN);
      const parentId = plan.data.parent_task_id as string;
      const order = plan.data.execution_order as string[];
      for (const id of order.slice(0, -1)) {
        await call('orchestrator_execute_subtask', { task_id: id });
        await call('orchestrator_complete_subtask', { task_id: id, results: RESULTS, artifacts: ['packages/reports/src/csv.ts'], artifact_type: 'code' });
      }
      if (measuring) lastSubtasks.push(order.at(-1)!);
      await call('orchestrator_get_status', {});
      await call('orchestrator_initialize_session', {});
      await call('orchestrator_synthesize_results', { parent_task_id: parentId });
      if (round % 25 === 0) progress(`per-tool round ${round + 1}/${rounds}`);
    }
    // The last subtask of each parent: completing it archives the parent (one more move and folder fsync).
    for (const id of lastSubtasks) {
      await call('orchestrator_execute_subtask', { task_id: id });
      await call('orchestrator_complete_subtask', { task_id: id, results: RESULTS }, result.completeArchiving);
    }
    result.minimalRss = (await memoryOf(minimal.pid))?.rss ?? Number.NaN;
    result.realRss = (await memoryOf(real.pid))?.rss ?? Number.NaN;
    result.activeParents = (await callOk(real, 'orchestrator_get_status', { limit: 1 })).data.parents.active;
  } finally {
    await real.close();
    await minimal.close();
  }
  return result;
}


/**
 * Leases (issue 10): agents racing for the subtasks of one plan, and what a lease costs a completion.
 *
 * Race: `leaseAgents` server processes, one agent each (its own agent_id), walk the same `leaseSubtasks`
 * ready subtasks in their own shuffled orders and try to execute each; an agent that gets the lease
 * completes it. Every subtask must be executed by exactly one agent: counted from the acknowledgements,
 * and checked on disk in the parent's history (one start per subtask) and results (naming that agent).
 *
 * Cost: on one server, complete_subtask on a subtask that was executed under a lease (the lease is
 * checked and ended) against complete_subtask on one never started (no lease to look at), taking turns.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchConfig } from './config.js';
import { rng } from './generate.js';
import { callOk, spawnOrchestrator, type Server } from './mcp.js';

export interface LeaseResult {
  agents: number;
  subtasks: number;
  seconds: number;
  /** Subtasks whose execute was acknowledged to exactly one agent, to none, to several. */
  executedOnce: number;
  executedNever: number;
  executedTwice: number;
  /** Refusals with SUBTASK_CLAIMED (another agent held it) and INVALID_TRANSITION (already completed). */
  claimedRefusals: number;
  completedRefusals: number;
  otherErrors: string[];
  /** On disk: subtasks with more than one pending -> active event in the history, and results not naming the acknowledged agent. */
  diskDoubleStarts: number;
  diskWrongAgent: number;
  completeWithLease: number[];
  completeWithoutLease: number[];
}

export async function runLeases(config: BenchConfig, workDir: string, progress: (msg: string) => void): Promise<LeaseResult> {
  const project = path.join(workDir, 'leases');
  await mkdir(project, { recursive: true });
  const servers: Server[] = [];
  try {
    for (let j = 0; j < config.leaseAgents; j++) servers.push(await spawnOrchestrator(project));
    await Promise.all(servers.map((s) => callOk(s, 'orchestrator_initialize_session', {})));
    progress(`leases: ${config.leaseAgents} agents race for ${config.leaseSubtasks} subtasks`);
    const race = await runRace(config, project, servers);
    progress('leases: complete_subtask with and without a lease');
    const cost = await runCost(config, servers[0]!);
    return { ...race, ...cost };
  } finally {
    await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  }
}

async function runRace(config: BenchConfig, project: string, servers: Server[]) {
  const plan = await callOk(servers[0]!, 'orchestrator_plan_task', {
    description: 'Lease race: every subtask must be done by exactly one agent',
    subtasks: Array.from({ length: config.leaseSubtasks }, (_, i) => ({ title: `Independent step ${i + 1}`, description: 'Any agent may take it', specialist_type: 'implementer' })),
  });
  const parentId = plan.data.parent_task_id as string;
  const ids = plan.data.execution_order as string[];
  const random = rng(1010);
  const winners = new Map<string, string[]>();
  let claimedRefusals = 0;
  let completedRefusals = 0;
  const otherErrors: string[] = [];
  const start = performance.now();
  await Promise.all(
    servers.map(async (server, j) => {
      const agent = `agent-${j}`;
      for (const id of shuffled(ids, random)) {
        const started = await server.call('orchestrator_execute_subtask', { task_id: id, agent_id: agent });
        if (started.isError) {
          if (started.text.startsWith('SUBTASK_CLAIMED')) claimedRefusals++;
          else if (started.text.startsWith('INVALID_TRANSITION')) completedRefusals++;
          else otherErrors.push(started.text.slice(0, 200));
          continue;
        }
        winners.set(id, [...(winners.get(id) ?? []), agent]);
        const done = await server.call('orchestrator_complete_subtask', { task_id: id, agent_id: agent, results: `Done by ${agent}` });
        if (done.isError) otherErrors.push(done.text.slice(0, 200));
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const counts = ids.map((id) => winners.get(id)?.length ?? 0);
  const disk = await checkOnDisk(project, parentId, winners);
  return {
    agents: servers.length,
    subtasks: ids.length,
    seconds,
    executedOnce: counts.filter((c) => c === 1).length,
    executedNever: counts.filter((c) => c === 0).length,
    executedTwice: counts.filter((c) => c > 1).length,
    claimedRefusals,
    completedRefusals,
    otherErrors,
    ...disk,
  };
}

/** The archived parent (every subtask completed): one start per subtask in its history, results naming the acknowledged agent. */
async function checkOnDisk(project: string, parentId: string, winners: Map<string, string[]>) {
  const tasks = path.join(project, '.task_orchestrator', 'tasks');
  const text = await readFile(path.join(tasks, 'archive', `${parentId}.json`), 'utf8').catch(() => readFile(path.join(tasks, 'active', `${parentId}.json`), 'utf8'));
  const parent = JSON.parse(text) as { subtasks: { task_id: string; results: string | null }[]; history?: { task_id: string; from: string | null; to: string }[] };
  const starts = new Map<string, number>();
  for (const e of parent.history ?? []) if (e.to === 'active' && e.task_id !== parentId) starts.set(e.task_id, (starts.get(e.task_id) ?? 0) + 1);
  return {
    diskDoubleStarts: [...starts.values()].filter((n) => n > 1).length,
    diskWrongAgent: parent.subtasks.filter((s) => s.results !== `Done by ${winners.get(s.task_id)?.[0]}`).length,
  };
}

async function runCost(config: BenchConfig, server: Server) {
  const completeWithLease: number[] = [];
  const completeWithoutLease: number[] = [];
  for (let round = 0; round < config.leaseCostRounds; round++) {
    // Parents of 5 subtasks, 4 completed: each stays active, as in the per-tool phase.
    const plan = await callOk(server, 'orchestrator_plan_task', { description: `Lease cost ${round}`, subtasks: Array.from({ length: 5 }, (_, i) => ({ title: `Step ${i + 1}`, specialist_type: 'implementer' })) });
    const ids = plan.data.execution_order as string[];
    for (let k = 0; k < 4; k++) {
      const id = ids[k]!;
      const leased = (round + k) % 2 === 0;
      if (leased) await callOk(server, 'orchestrator_execute_subtask', { task_id: id, agent_id: 'bench-agent' });
      const done = await callOk(server, 'orchestrator_complete_subtask', { task_id: id, results: 'Done: the change is in and its tests pass.', ...(leased ? { agent_id: 'bench-agent' } : {}) });
      (leased ? completeWithLease : completeWithoutLease).push(done.ms);
    }
  }
  return { completeWithLease, completeWithoutLease };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

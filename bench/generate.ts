/**
 * Writes task files straight to disk in the real on-disk format (one JSON file per parent, named
 * <parent_task_id>.json, in tasks/active/ or tasks/archive/), deterministically from a seed, so the
 * scale phase can start servers on thousands of parents without planning them through the server.
 * Files are serialized by the project's own serializeTaskFile and a sample is read back with
 * parseTaskFile, so a change of format breaks the bench loudly instead of benchmarking stale files.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ParentTask, Subtask } from '../src/domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../src/domain/task-file.js';
import { seededRandom } from '../test/process/workers/random.js';

/**
 * Pids that no process can have (above the kernel's pid_max): an "active" subtask owned by one shows as
 * interrupted by a previous session. Twenty of them, as if twenty past sessions had stopped mid-subtask.
 */
function deadPids(): number[] {
  let max = 4_194_304;
  try {
    max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) || max;
  } catch {
    // not Linux: the largest pid_max Linux allows is above any real pid elsewhere too
  }
  return Array.from({ length: 20 }, (_, i) => max + 1 + i);
}
export const DEAD_PIDS = deadPids();

const ROLES = ['architect', 'implementer', 'tester', 'documenter', 'reviewer', 'debugger', 'researcher'];
const VERBS = ['Design', 'Implement', 'Test', 'Document', 'Review', 'Refactor', 'Profile', 'Migrate', 'Harden', 'Investigate'];
const THINGS = ['the CSV export', 'the login flow', 'the billing webhook', 'the search index', 'the settings page', 'the rate limiter', 'the audit log', 'the sync worker', 'the report builder', 'the cache layer', 'the upload pipeline', 'the notification service'];
const WORDS = [
  'the a an of to in for on with by from and or but not that this these those it its we they you is are was be been',
  'has have will can should must may module service handler request response client server cache index query table',
  'column row schema migration field record entry value key token session user account config option flag setting default',
  'limit timeout retry backoff queue worker job task batch stream buffer chunk file folder path lock journal log metric',
  'trace span error failure warning exception edge case input output format parser encoder decoder validator router',
  'controller view model store repository adapter port gateway test fixture mock stub assertion coverage benchmark',
  'profile latency throughput memory disk network socket thread process signal event listener callback promise design',
  'review refactor implement document deploy release build compile bundle lint format check verify measure compare',
  'reduce increase keep move split merge rename simple robust fast slow small large stable flaky durable atomic consistent',
  'concurrent parallel sequential lazy eager strict loose explicit implicit public private api endpoint payload header',
  'body status code version release changelog readme guide note plan step goal scope risk cost trade off option decision',
  'constraint user customer admin team owner reviewer maintainer contributor operator on call incident alert dashboard',
  'report export import upload download sync backup restore',
]
  .join(' ')
  .split(' ');

/** A small deterministic PRNG (the tests' own), so every run benchmarks the same files. */
export const rng = seededRandom;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function sentence(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(pick(random, WORDS));
  const text = out.join(' ');
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

function text(random: () => number, sentences: number): string {
  return Array.from({ length: sentences }, () => sentence(random, 8 + Math.floor(random() * 10))).join(' ');
}

function hex(random: () => number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

const HOST = os.hostname();

export type Kind = 'active' | 'archived';

export interface GeneratedParent {
  parent: ParentTask;
  kind: Kind;
}

/**
 * One realistic parent: 4 to 6 subtasks (or `subtaskCount`), a dependency chain with some fan-out, and
 * results on completed subtasks. Active parents have some subtasks completed and the rest pending, and
 * one in twenty has a subtask left active by a process that is gone (an interrupted session); archived
 * parents are completed. Roughly 4 KB on disk.
 */
export function makeParent(random: () => number, kind: Kind, id: string, options: { subtaskCount?: number; completed?: number; now?: number } = {}): ParentTask {
  const now = options.now ?? Date.UTC(2025, 5, 1);
  const created = now - Math.floor(random() * 90 * 86_400_000);
  const iso = (t: number) => new Date(t).toISOString();
  const count = options.subtaskCount ?? 4 + Math.floor(random() * 3);
  const done = kind === 'archived' ? count : (options.completed ?? Math.floor(random() * (count - 1)));
  const interrupted = kind === 'active' && options.completed === undefined && random() < 0.05;
  const description = `${pick(random, VERBS)} ${pick(random, THINGS)}: ${text(random, 2)}`;
  let clock = created;
  const subtasks: Subtask[] = [];
  for (let i = 1; i <= count; i++) {
    const taskId = `${id}.${i}`;
    const role = pick(random, ROLES);
    const deps = i === 1 ? [] : random() < 0.7 ? [`${id}.${i - 1}`] : [`${id}.1`];
    const status: Subtask['status'] = i <= done ? 'completed' : interrupted && i === done + 1 ? 'active' : 'pending';
    clock += Math.floor(random() * 3_600_000);
    const completedAt = status === 'completed' ? iso(clock) : null;
    subtasks.push({
      task_id: taskId,
      title: `${pick(random, VERBS)} ${pick(random, THINGS)}`,
      description: text(random, 1),
      specialist_type: role,
      dependencies: deps,
      estimated_effort: `${1 + Math.floor(random() * 4)} hours`,
      status,
      results: status === 'completed' ? text(random, 2) : null,
      artifacts: status === 'completed' ? [`src/${pick(random, WORDS)}/${pick(random, WORDS)}.ts`] : [],
      created_at: iso(created),
      completed_at: completedAt,
      handle: `step${i}`,
      started_at: status === 'pending' ? null : iso(clock - 600_000),
      active_owner: status === 'active' ? { pid: pick(random, DEAD_PIDS), host: HOST, instance: hex(random, 12) } : null,
      artifact_type: status === 'completed' ? 'code' : null,
      detailed_work_file: null,
      blocked_reason: null,
      updated_at: iso(clock),
    });
  }
  const complete = subtasks.every((s) => s.status === 'completed');
  return {
    version: '2.0',
    parent_task_id: id,
    title: description.slice(0, 80),
    description,
    complexity: pick(random, ['simple', 'moderate', 'complex'] as const),
    context: text(random, 1),
    created_at: iso(created),
    updated_at: iso(clock),
    status: complete ? 'completed' : 'active',
    completed_at: complete ? iso(clock) : null,
    revision: 1 + done * 2,
    subtasks,
  };
}

/** Fresh, unique parent ids in the server's format (task_ and 10 hex digits). */
export function idMaker(random: () => number): () => string {
  const used = new Set<string>();
  return () => {
    for (;;) {
      const id = `task_${hex(random, 10)}`;
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
}

export function projectDirs(baseDir: string): { active: string; archive: string } {
  const tasks = path.join(baseDir, '.task_orchestrator', 'tasks');
  return { active: path.join(tasks, 'active'), archive: path.join(tasks, 'archive') };
}

/** Writes parents into a project (plain writes, no fsync: this is set-up, not the thing measured). */
export async function writeParents(baseDir: string, parents: readonly GeneratedParent[], concurrency = 32): Promise<void> {
  await placeParents(baseDir, parents, concurrency, (parent, file) => writeFile(file, serializeTaskFile(parent)));
}

/**
 * Puts one file per parent into a project's tasks/active/ or tasks/archive/ (by its kind), with
 * `concurrency` calls of `place` at a time.
 */
export async function placeParents(baseDir: string, parents: readonly GeneratedParent[], concurrency: number, place: (parent: ParentTask, file: string, kind: Kind) => Promise<void>): Promise<void> {
  const dirs = projectDirs(baseDir);
  await mkdir(dirs.active, { recursive: true });
  await mkdir(dirs.archive, { recursive: true });
  let next = 0;
  const worker = async () => {
    while (next < parents.length) {
      const { parent, kind } = parents[next++]!;
      await place(parent, path.join(kind === 'active' ? dirs.active : dirs.archive, `${parent.parent_task_id}.json`), kind);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Checks that generated files parse as the server parses them; returns the mean file size in bytes. */
export function checkFormat(parents: readonly GeneratedParent[]): number {
  let bytes = 0;
  for (const { parent } of parents) bytes += Buffer.byteLength(serializeTaskFile(parent));
  for (const { parent } of parents.slice(0, 50)) {
    const parsed = parseTaskFile(serializeTaskFile(parent));
    if (!parsed.ok) throw new Error(`generated file for ${parent.parent_task_id} does not parse: ${parsed.message}`);
  }
  return parents.length ? bytes / parents.length : 0;
}

/**
 * The scale data sets: one list of active parents and one of archived ones, from a fixed seed. The
 * smaller scale uses a prefix of the larger one's active parents and the same archive.
 */
export function scaleParents(maxActive: number, maxArchived: number, seed = 20250601): { active: GeneratedParent[]; archived: GeneratedParent[] } {
  const random = rng(seed);
  const nextId = idMaker(random);
  const active = Array.from({ length: maxActive }, () => ({ parent: makeParent(random, 'active', nextId()), kind: 'active' as const }));
  const archived = Array.from({ length: maxArchived }, () => ({ parent: makeParent(random, 'archived', nextId()), kind: 'archived' as const }));
  return { active, archived };
}

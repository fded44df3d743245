import type { ActiveOwner, NextAction, ParentTask, Progress, StatusCounts, Subtask, SubtaskStatus } from './model.js';
import { SUBTASK_STATUSES } from './model.js';
import { fail, ok, type Check } from './errors.js';
import { topologicalOrder } from './plan.js';
import { truncate } from './ids.js';
import { leaseExpired } from './leases.js';

export function findSubtask(parent: ParentTask, taskId: string): Subtask | undefined {
  return parent.subtasks.find((s) => s.task_id === taskId);
}

export function unmetDependencies(parent: ParentTask, subtask: Subtask): Subtask[] {
  return subtask.dependencies
    .map((id) => findSubtask(parent, id))
    .filter((dep): dep is Subtask => dep !== undefined && dep.status !== 'completed');
}

/** Dependencies that name no subtask of the parent (possible in Python-era files): they can never be met. */
export function missingDependencies(parent: ParentTask, subtask: Subtask): string[] {
  return subtask.dependencies.filter((id) => !findSubtask(parent, id));
}

function isReady(parent: ParentTask, subtask: Subtask): boolean {
  return unmetDependencies(parent, subtask).length === 0 && missingDependencies(parent, subtask).length === 0;
}

export interface StartOptions {
  force: boolean;
  owner: ActiveOwner;
  now: string;
}

/** execute_subtask: marks the subtask active, unless its dependencies are unfinished (then only with force). */
export function startSubtask(parent: ParentTask, taskId: string, options: StartOptions): Check<ParentTask> {
  const subtask = findSubtask(parent, taskId);
  if (!subtask) return subtaskNotFound(parent, taskId);
  if (subtask.status === 'completed' && !options.force) {
    return fail('INVALID_TRANSITION', `Subtask ${taskId} ("${truncate(subtask.title, 60)}") is already completed (at ${subtask.completed_at ?? 'an unknown time'}). Its results are in orchestrator_synthesize_results; pass force: true only to run it again from scratch.`, { task_id: taskId, status: subtask.status });
  }
  const unmet = unmetDependencies(parent, subtask);
  const missing = missingDependencies(parent, subtask);
  if (missing.length > 0 && !options.force) {
    return fail('UNMET_DEPENDENCIES', `Subtask ${taskId} depends on ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not a subtask of ${parent.parent_task_id} (a file from the Python orchestrator?), so it can never be met. Pass force: true to start it anyway.`, { task_id: taskId, missing_dependencies: missing });
  }
  if (unmet.length > 0 && !options.force) return unmetRefusal(taskId, unmet, 'Execute and complete those first, or pass force: true to start anyway.');
  return ok(
    withSubtask(parent, taskId, options.now, (s) =>
      recordForced(
        {
          ...s,
          status: 'active',
          started_at: options.now,
          active_owner: options.owner,
          blocked_reason: null,
          ...(s.status === 'completed' ? { revision_notes: [...(s.revision_notes ?? []), s.results ?? ''], results: null, completed_at: null } : {}),
        },
        unmet,
      ),
    ),
  );
}

export interface Completion {
  results: string;
  artifacts: string[];
  artifactType: string | null;
  nextAction: NextAction;
  /** A new detailed-work file written for this call; the previous one moves to earlier_work_files. */
  detailedWorkFile: string | null;
  /** sha256 of the call's detailed_work, null when it sent none. */
  detailedWorkDigest: string | null;
  /** Complete it although it was never started and its dependencies are unfinished. */
  force: boolean;
  now: string;
}

/** Statuses of a subtask whose current attempt did not pass execute_subtask's dependency check. */
const NOT_STARTED: readonly SubtaskStatus[] = ['pending', 'blocked', 'failed'];

/**
 * The unfinished dependencies that completing this subtask would go ahead of. Work started with
 * execute_subtask (active) passed that check already; next_action "blocked" or "needs_revision"
 * claims nothing is done, so neither is held back.
 */
export function dependenciesSkippedByCompletion(parent: ParentTask, subtask: Subtask, nextAction: NextAction): Subtask[] {
  const finishing = nextAction === 'continue' || nextAction === 'complete';
  return finishing && NOT_STARTED.includes(subtask.status) ? unmetDependencies(parent, subtask) : [];
}

/** complete_subtask: records the results and applies next_action. */
export function completeSubtask(parent: ParentTask, taskId: string, completion: Completion): Check<ParentTask> {
  const subtask = findSubtask(parent, taskId);
  if (!subtask) return subtaskNotFound(parent, taskId);
  const finishing = completion.nextAction === 'continue' || completion.nextAction === 'complete';
  // A retried call (the reply was lost) must not fail or write twice: same outcome, nothing to do.
  if (isRepeat(subtask, completion)) return ok(parent);
  if (finishing && subtask.status === 'completed') {
    const differs = newMaterial(subtask, completion).join(', ');
    return fail('INVALID_TRANSITION', `Subtask ${taskId} ("${truncate(subtask.title, 60)}") is already completed (at ${subtask.completed_at ?? 'an unknown time'}), and this call brings different ${differs}, which was not stored. To replace its results, send next_action "needs_revision" and then execute and complete it again.`, { task_id: taskId, status: subtask.status, differs });
  }
  const skipped = dependenciesSkippedByCompletion(parent, subtask, completion.nextAction);
  if (skipped.length > 0 && !completion.force) {
    return unmetRefusal(taskId, skipped, 'Execute and complete those first, send next_action "blocked" if this work waits for them, or pass force: true to record these results anyway.');
  }
  // An active subtask keeps what execute_subtask recorded; one finished without being started records (or clears) it now.
  const gated = finishing && NOT_STARTED.includes(subtask.status);
  return ok(
    withSubtask(parent, taskId, completion.now, (s) => {
      const changed = applyCompletion(s, completion);
      return gated ? recordForced(changed, skipped) : changed;
    }),
  );
}

function unmetRefusal(taskId: string, unmet: readonly Subtask[], fix: string): Check<never> {
  const names = unmet.map((d) => `${d.task_id} ("${truncate(d.title, 50)}", ${d.status})`).join(', ');
  return fail('UNMET_DEPENDENCIES', `Subtask ${taskId} depends on unfinished work: ${names}. ${fix}`, { task_id: taskId, unmet_dependencies: unmet.map((d) => ({ task_id: d.task_id, title: d.title, status: d.status })) });
}

/** Notes which unfinished dependencies forced work went ahead of; work that waited for them clears the note. */
function recordForced(subtask: Subtask, unmet: readonly Subtask[]): Subtask {
  const { forced_past_dependencies: _previous, ...rest } = subtask;
  return unmet.length > 0 ? { ...rest, forced_past_dependencies: unmet.map((d) => d.task_id) } : rest;
}

/** The number the next detailed-work file of this subtask gets (1, 2, ...), one per document it ever had. */
export function nextWorkFileNumber(subtask: Subtask): number {
  return (subtask.earlier_work_files?.length ?? 0) + (subtask.detailed_work_file ? 1 : 0) + 1;
}

function applyCompletion(subtask: Subtask, c: Completion): Subtask {
  const artifacts = [...new Set([...subtask.artifacts, ...c.artifacts])];
  const replaced = c.detailedWorkFile && subtask.detailed_work_file ? [subtask.detailed_work_file] : [];
  const common = {
    ...subtask,
    artifacts,
    active_owner: null,
    lease: null,
    artifact_type: c.artifactType ?? subtask.artifact_type ?? null,
    detailed_work_file: c.detailedWorkFile ?? subtask.detailed_work_file ?? null,
    detailed_work_digest: c.detailedWorkDigest,
    ...(replaced.length ? { earlier_work_files: [...(subtask.earlier_work_files ?? []), ...replaced] } : {}),
  };
  // Results already recorded are kept as a revision note whenever the subtask leaves "completed": never lost.
  const previous = subtask.status === 'completed' && subtask.results ? [subtask.results] : [];
  switch (c.nextAction) {
    case 'continue':
    case 'complete':
      return { ...common, status: 'completed', results: c.results, completed_at: c.now, blocked_reason: null };
    case 'needs_revision':
      return { ...common, status: 'pending', results: null, completed_at: null, blocked_reason: null, revision_notes: [...(subtask.revision_notes ?? []), ...previous, c.results] };
    case 'blocked':
      return { ...common, status: 'blocked', results: c.results, completed_at: null, blocked_reason: c.results, ...(previous.length ? { revision_notes: [...(subtask.revision_notes ?? []), ...previous] } : {}) };
  }
}

/** A retried call (its reply was lost) is a repeat only when it would change nothing: same outcome and no new material. */
function isRepeat(subtask: Subtask, c: Completion): boolean {
  return sameOutcome(subtask, c) && newMaterial(subtask, c).length === 0;
}

function sameOutcome(subtask: Subtask, c: Completion): boolean {
  switch (c.nextAction) {
    case 'continue':
    case 'complete':
      return subtask.status === 'completed' && subtask.results === c.results;
    case 'needs_revision':
      return subtask.status === 'pending' && subtask.revision_notes?.at(-1) === c.results;
    case 'blocked':
      return subtask.status === 'blocked' && subtask.blocked_reason === c.results;
  }
}

/** What the call brings that the subtask does not hold: the names of those fields. */
function newMaterial(subtask: Subtask, c: Completion): string[] {
  const fields: string[] = [];
  const finishing = c.nextAction === 'continue' || c.nextAction === 'complete';
  if (finishing && subtask.results !== c.results) fields.push('results');
  if ((subtask.detailed_work_digest ?? null) !== c.detailedWorkDigest) fields.push('detailed_work');
  if (c.artifacts.some((a) => !subtask.artifacts.includes(a))) fields.push('artifacts');
  if (c.artifactType !== null && c.artifactType !== (subtask.artifact_type ?? null)) fields.push('artifact_type');
  return fields;
}

/** Returns a copy of the parent with one subtask replaced, the parent's status and counters brought up to date. */
function withSubtask(parent: ParentTask, taskId: string, now: string, change: (s: Subtask) => Subtask): ParentTask {
  const subtasks = parent.subtasks.map((s) => (s.task_id === taskId ? { ...change(s), updated_at: now } : s));
  const allDone = subtasks.every((s) => s.status === 'completed');
  return {
    ...parent,
    subtasks,
    status: allDone ? 'completed' : 'active',
    completed_at: allDone ? (parent.completed_at ?? now) : null,
    updated_at: now,
  };
}

/** The fields progress and completion are judged by: a parent, or a summary of one. */
type StatusesOf = { parent_task_id: string; subtasks: readonly Pick<Subtask, 'status'>[] };

export function isParentComplete(parent: Pick<StatusesOf, 'subtasks'>): boolean {
  return parent.subtasks.length > 0 && parent.subtasks.every((s) => s.status === 'completed');
}

export function progressOf(parent: StatusesOf): Progress {
  const completed = parent.subtasks.filter((s) => s.status === 'completed').length;
  const total = parent.subtasks.length;
  return {
    parent_task_id: parent.parent_task_id,
    completed_subtasks: completed,
    total_subtasks: total,
    progress_percentage: total === 0 ? 0 : Math.round((completed / total) * 1000) / 10,
  };
}

export function statusCounts(subtasks: readonly Pick<Subtask, 'status'>[]): StatusCounts {
  const counts = Object.fromEntries(SUBTASK_STATUSES.map((s) => [s, 0])) as StatusCounts;
  for (const s of subtasks) counts[s.status] = (counts[s.status] ?? 0) + 1;
  return counts;
}

/**
 * The subtask to do next: first a pending one that the just-completed subtask unblocked,
 * then any pending one whose dependencies are all completed, in execution order.
 */
export function nextRecommended(parent: ParentTask, justCompletedId?: string): Subtask | null {
  const byId = new Map(parent.subtasks.map((s) => [s.task_id, s]));
  const ready = topologicalOrder(parent.subtasks)
    .map((id) => byId.get(id)!)
    .filter((s) => s.status === 'pending' && isReady(parent, s));
  const unblocked = justCompletedId ? ready.find((s) => s.dependencies.includes(justCompletedId)) : undefined;
  return unblocked ?? ready[0] ?? null;
}

/**
 * A subtask left active by a process that is gone (or by a server that never recorded its owner), or
 * whose lease has expired (when `now` is given): anyone may take it over.
 */
export function isInterrupted(subtask: Pick<Subtask, 'status' | 'active_owner' | 'lease'>, isOwnerAlive: (owner: ActiveOwner) => boolean, now?: Date | string): boolean {
  if (subtask.status !== 'active') return false;
  if (!subtask.active_owner || !isOwnerAlive(subtask.active_owner)) return true;
  return now !== undefined && !!subtask.lease && leaseExpired(subtask.lease, now);
}

export function interruptedSubtasks(parent: ParentTask, isOwnerAlive: (owner: ActiveOwner) => boolean, now?: Date | string): Subtask[] {
  return parent.subtasks.filter((s) => isInterrupted(s, isOwnerAlive, now));
}

function subtaskNotFound(parent: ParentTask, taskId: string): Check<never> {
  return fail('TASK_NOT_FOUND', `Parent ${parent.parent_task_id} has no subtask ${taskId}. Its subtasks are: ${parent.subtasks.map((s) => s.task_id).join(', ')}.`, { task_id: taskId });
}

import { OrchestratorError, unwrap } from '../domain/errors.js';
import { appendEvents } from '../domain/history.js';
import { checkTaskId } from '../domain/ids.js';
import { leaseExpired, releaseExpiredLease, releaseSubtask } from '../domain/leases.js';
import { isInterrupted, isParentComplete, progressOf } from '../domain/lifecycle.js';
import type { ParentTask, Progress, Subtask } from '../domain/model.js';
import { nowIso, subtaskOf, type AppContext } from './context.js';
import { eventSource } from './history.js';
import { renderSpecialistPrompt } from '../domain/prompt.js';
import type { ParentSummary } from './ports.js';

/** Which parents the dashboard's list shows. */
export const PARENT_FILTERS = ['active', 'archived', 'blocked', 'interrupted'] as const;
export type ParentFilter = (typeof PARENT_FILTERS)[number];
export const MAX_PARENTS_PAGE = 200;

export interface ParentRow {
  parent_task_id: string;
  title: string;
  location: 'active' | 'archive';
  updated_at: string;
  progress: Progress;
  blocked: number;
  interrupted: number;
}

/**
 * One page of parents for the dashboard, most recently updated first, from the same listing
 * get_status pages through (store.list, which follows other servers). Archived parents are listed
 * only for the "archived" filter: the archive may hold tens of thousands.
 */
export async function listParents(ctx: AppContext, request: { filter?: unknown; offset?: number; limit?: number }): Promise<{ parents: ParentRow[]; total: number; offset: number }> {
  const filter = checkFilter(request.filter);
  const offset = Math.max(0, Math.floor(request.offset ?? 0));
  const limit = Math.min(MAX_PARENTS_PAGE, Math.max(1, Math.floor(request.limit ?? 50)));
  const summaries = await ctx.store.list({ includeArchived: filter === 'archived' });
  const now = ctx.clock.now();
  const interrupted = (s: ParentSummary['subtasks'][number]) => isInterrupted(s, ctx.isOwnerAlive, now);
  const keep: Record<ParentFilter, (p: ParentSummary) => boolean> = {
    active: (p) => p.location === 'active',
    archived: (p) => p.location === 'archive',
    blocked: (p) => p.subtasks.some((s) => s.status === 'blocked'),
    interrupted: (p) => p.subtasks.some(interrupted),
  };
  const selected = summaries.filter(keep[filter]);
  const parents = selected.slice(offset, offset + limit).map((p) => ({
    parent_task_id: p.parent_task_id,
    title: p.title,
    location: p.location,
    updated_at: p.updated_at,
    progress: progressOf(p),
    blocked: p.subtasks.filter((s) => s.status === 'blocked').length,
    interrupted: p.subtasks.filter(interrupted).length,
  }));
  return { parents, total: selected.length, offset };
}

function checkFilter(raw: unknown): ParentFilter {
  if (raw === undefined || raw === null || raw === '') return 'active';
  if (typeof raw === 'string' && (PARENT_FILTERS as readonly string[]).includes(raw)) return raw as ParentFilter;
  throw new OrchestratorError('INVALID_INPUT', `filter must be one of ${PARENT_FILTERS.join(', ')}; got ${JSON.stringify(raw).slice(0, 40)}.`);
}

/** A subtask in full for its detail view: its prompt as an agent would get it, its results, and its detailed work's text. */
export async function subtaskDetail(ctx: AppContext, rawParentId: unknown, rawTaskId: unknown): Promise<{ parent_task_id: string; subtask: Subtask; prompt: string | null; detailed_work: string | null; interrupted: boolean }> {
  const parentTaskId = unwrap(checkTaskId(rawParentId, 'parent_task_id'));
  const taskId = unwrap(checkTaskId(rawTaskId));
  const parent = await ctx.store.read(parentTaskId);
  const subtask = subtaskOf(parent, taskId);
  const role = ctx.roles.roles.get(subtask.specialist_type);
  const prompt = role ? renderSpecialistPrompt({ roleName: role.name, role, parent, subtask, template: ctx.roles.templateFor(role.name) }) : null;
  const detailed_work = subtask.detailed_work_file ? await ctx.store.readDocument(subtask.detailed_work_file) : null;
  return { parent_task_id: parentTaskId, subtask, prompt, detailed_work, interrupted: isInterrupted(subtask, ctx.isOwnerAlive, ctx.clock.now()) };
}

interface SubtaskTarget {
  parent_task_id: unknown;
  task_id: unknown;
}

function refuseReadOnly(ctx: AppContext): void {
  if (ctx.store.readOnly) throw new OrchestratorError('STORAGE_ERROR', `${ctx.baseDir}/.task_orchestrator is read-only: nothing was changed. Make the folder writable first.`, { read_only: true });
}

/**
 * Releases the lease of an active subtask whose lease expired, or whose server is gone (stuck): back to
 * pending, the holder recorded as having lost it, in history as the caller. A live lease is refused:
 * its agent is still working.
 */
export async function releaseLease(ctx: AppContext, target: SubtaskTarget): Promise<ParentTask> {
  refuseReadOnly(ctx);
  const parentTaskId = unwrap(checkTaskId(target.parent_task_id, 'parent_task_id'));
  const taskId = unwrap(checkTaskId(target.task_id));
  return ctx.store.update(parentTaskId, (current) => {
    const subtask = subtaskOf(current, taskId);
    const now = nowIso(ctx);
    const reason = stuckReason(ctx, subtask, now);
    if (reason === null) {
      throw new OrchestratorError('INVALID_TRANSITION', `Subtask ${taskId} is ${subtask.status}${subtask.lease ? ` under a lease of ${subtask.lease.agent_id} until ${subtask.lease.expires_at}` : ''}: only an expired lease or a subtask whose server is gone can be released. Nothing was changed.`, { task_id: taskId, status: subtask.status });
    }
    const released = subtask.lease ? releaseExpiredLease(current, taskId, now) : releaseSubtask(current, taskId, now);
    return appendEvents(released, eventSource(ctx), [{ task_id: taskId, from: 'active', to: 'pending', note: `released: ${reason}` }]);
  });
}

function stuckReason(ctx: AppContext, subtask: Subtask, now: string): string | null {
  if (subtask.status !== 'active') return null;
  if (subtask.lease) return leaseExpired(subtask.lease, now) ? `the lease of ${subtask.lease.agent_id} expired at ${subtask.lease.expires_at}` : null;
  return isInterrupted(subtask, ctx.isOwnerAlive) ? 'the server that started it is gone' : null;
}

/** Archives a parent whose subtasks are all completed, recording it in history; the store moves a complete parent to the archive on write. */
export async function archiveParent(ctx: AppContext, rawParentId: unknown): Promise<ParentTask> {
  refuseReadOnly(ctx);
  const parentTaskId = unwrap(checkTaskId(rawParentId, 'parent_task_id'));
  if ((await ctx.store.locationOf(parentTaskId)) === 'archive') {
    throw new OrchestratorError('INVALID_TRANSITION', `Task ${parentTaskId} is already archived. Nothing was changed.`, { parent_task_id: parentTaskId });
  }
  return ctx.store.update(parentTaskId, (current) => {
    if (!isParentComplete(current)) {
      const open = current.subtasks.filter((s) => s.status !== 'completed').length;
      throw new OrchestratorError('INVALID_TRANSITION', `Task ${parentTaskId} has ${open} subtask(s) not completed: only a finished task can be archived. Nothing was changed.`, { parent_task_id: parentTaskId });
    }
    return appendEvents({ ...current, updated_at: nowIso(ctx) }, eventSource(ctx), [{ task_id: parentTaskId, from: 'active', to: 'archived', note: 'archived from the dashboard' }]);
  });
}

/** Sends a blocked subtask back to pending with a note saying why it may go on; its results and notes stay. */
export async function unblockSubtask(ctx: AppContext, target: SubtaskTarget & { note: unknown }): Promise<ParentTask> {
  refuseReadOnly(ctx);
  const parentTaskId = unwrap(checkTaskId(target.parent_task_id, 'parent_task_id'));
  const taskId = unwrap(checkTaskId(target.task_id));
  const note = typeof target.note === 'string' ? target.note.trim() : '';
  if (note.length === 0 || note.length > 2000) throw new OrchestratorError('INVALID_INPUT', 'note must say, in 1 to 2000 characters, why the subtask may go on. Nothing was changed.');
  return ctx.store.update(parentTaskId, (current) => {
    const subtask = subtaskOf(current, taskId);
    if (subtask.status !== 'blocked') throw new OrchestratorError('INVALID_TRANSITION', `Subtask ${taskId} is ${subtask.status}, not blocked. Nothing was changed.`, { task_id: taskId, status: subtask.status });
    const now = nowIso(ctx);
    const notes = [...(subtask.revision_notes ?? []), `unblocked: ${note}`];
    const next = { ...current, updated_at: now, subtasks: current.subtasks.map((s) => (s.task_id === taskId ? { ...s, status: 'pending' as const, revision_notes: notes, updated_at: now } : s)) };
    return appendEvents(next, eventSource(ctx), [{ task_id: taskId, from: 'blocked', to: 'pending', note: `unblocked: ${note}` }]);
  });
}

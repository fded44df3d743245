import { OrchestratorError, unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { interruptedSubtasks, isInterrupted, progressOf, statusCounts } from '../domain/lifecycle.js';
import type { ParentTask, Progress, StatusCounts, Subtask } from '../domain/model.js';
import type { AppContext } from './context.js';

export interface ParentDetail {
  kind: 'parent';
  location: 'active' | 'archive';
  progress: Progress;
  status_counts: StatusCounts;
  interrupted_subtask_ids: string[];
  parent: ParentTask;
}

export interface SubtaskDetail {
  kind: 'subtask';
  /** One entry, or several for an id that Python-era files reused across parents. */
  matches: { parent_task_id: string; parent_title: string; location: 'active' | 'archive'; interrupted: boolean; subtask: Subtask }[];
}

/** One parent or subtask in full, by id, wherever it is stored (active or archived). */
export async function showTask(ctx: AppContext, rawId: unknown): Promise<ParentDetail | SubtaskDetail> {
  const id = unwrap(checkTaskId(rawId, 'id'));
  const parent = await readIfExists(ctx, id);
  if (parent) return parentDetail(ctx, parent, await locationOf(ctx, id));
  const parentIds = await ctx.store.parentsOfSubtask(id);
  const matches: SubtaskDetail['matches'] = [];
  for (const parentId of parentIds) {
    const holder = await ctx.store.read(parentId);
    const subtask = holder.subtasks.find((s) => s.task_id === id);
    if (!subtask) continue;
    const interrupted = isInterrupted(subtask, ctx.isOwnerAlive, ctx.clock.now());
    matches.push({ parent_task_id: parentId, parent_title: holder.title ?? holder.description, location: await locationOf(ctx, parentId), interrupted, subtask });
  }
  if (matches.length === 0) throw new OrchestratorError('TASK_NOT_FOUND', `No task or subtask ${id} in ${ctx.baseDir}. "task-orchestrator status --all" lists the ids.`, { id });
  return { kind: 'subtask', matches };
}

function parentDetail(ctx: AppContext, parent: ParentTask, location: 'active' | 'archive'): ParentDetail {
  return {
    kind: 'parent',
    location,
    progress: progressOf(parent),
    status_counts: statusCounts(parent.subtasks),
    interrupted_subtask_ids: interruptedSubtasks(parent, (o) => ctx.isOwnerAlive(o), ctx.clock.now()).map((s) => s.task_id),
    parent,
  };
}

async function readIfExists(ctx: AppContext, id: string): Promise<ParentTask | null> {
  try {
    return await ctx.store.read(id);
  } catch (error) {
    if (error instanceof OrchestratorError && error.code === 'TASK_NOT_FOUND') return null;
    throw error;
  }
}

/** The store knows where a parent is without listing the archive. */
async function locationOf(ctx: AppContext, parentTaskId: string): Promise<'active' | 'archive'> {
  return (await ctx.store.locationOf(parentTaskId)) ?? 'active';
}

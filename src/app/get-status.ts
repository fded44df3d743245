import { OrchestratorError, unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { statusCounts } from '../domain/lifecycle.js';
import type { StatusCounts, SubtaskStatus } from '../domain/model.js';
import type { AppContext } from './context.js';
import type { ParentSummary, StoreProblem } from './ports.js';

export interface GetStatusRequest {
  include_completed?: boolean;
  parent_task_id?: string;
  status?: SubtaskStatus;
  limit?: number;
  cursor?: string;
}

export interface StatusRow {
  task_id: string;
  parent_task_id: string;
  title: string;
  status: SubtaskStatus;
  specialist_type: string;
  interrupted: boolean;
}

export interface GetStatusResult {
  counts: StatusCounts & { total: number };
  parents: { active: number; archived: number | null };
  tasks: StatusRow[];
  total_matching: number;
  next_cursor: string | null;
  interrupted_subtasks: StatusRow[];
  storage_problems: StoreProblem[];
}

export const DEFAULT_STATUS_LIMIT = 100;
export const MAX_STATUS_LIMIT = 500;
const MAX_INTERRUPTED_LISTED = 50;

/**
 * get_status: counts per status over everything that matches, and one page of subtasks, most recently
 * updated parents first. Served from the store's index, so it stays fast with thousands of parents.
 */
export async function getStatus(ctx: AppContext, request: GetStatusRequest): Promise<GetStatusResult> {
  const parentFilter = request.parent_task_id ? unwrap(checkTaskId(request.parent_task_id, 'parent_task_id')) : null;
  const includeArchived = request.include_completed === true || parentFilter !== null;
  const { offset, limit } = page(request);
  const summaries = await ctx.store.list({ includeArchived });
  const selected = parentFilter ? summaries.filter((s) => s.parent_task_id === parentFilter) : summaries;
  if (parentFilter && selected.length === 0) {
    throw new OrchestratorError('TASK_NOT_FOUND', `No task ${parentFilter}. Call orchestrator_get_status without parent_task_id to list the tasks.`, { parent_task_id: parentFilter });
  }
  // One pass over every subtask: counts, the requested page and the interrupted ones. Row objects are
  // built only for what is returned, so a reply costs little even with tens of thousands of subtasks.
  const counts = statusCounts([]);
  const tasks: StatusRow[] = [];
  const interrupted: StatusRow[] = [];
  let total = 0;
  let matching = 0;
  let active = 0;
  const isOwnerAlive = remembered(ctx);
  for (const parent of selected) {
    if (parent.location === 'active') active++;
    for (const subtask of parent.subtasks) {
      total++;
      counts[subtask.status]++;
      const isInterrupted = subtask.status === 'active' && (!subtask.active_owner || !isOwnerAlive(subtask.active_owner));
      if (isInterrupted && interrupted.length < MAX_INTERRUPTED_LISTED) interrupted.push(toRow(parent, subtask, true));
      if (request.status && subtask.status !== request.status) continue;
      if (matching >= offset && matching < offset + limit) tasks.push(toRow(parent, subtask, isInterrupted));
      matching++;
    }
  }
  return {
    counts: { ...counts, total },
    parents: { active: parentFilter ? active : summaries.length - countArchived(summaries), archived: includeArchived ? countArchived(summaries) : null },
    tasks,
    total_matching: matching,
    next_cursor: offset + limit < matching ? encodeCursor(offset + limit) : null,
    interrupted_subtasks: interrupted,
    storage_problems: ctx.store.problems(),
  };
}

/**
 * Asks about each process once per call: checking a dead pid costs an exception, and a dead process
 * may have left many subtasks active. Only for this server's own pid does the instance matter.
 */
function remembered({ isOwnerAlive, owner: self }: AppContext): AppContext['isOwnerAlive'] {
  const known = new Map<string, boolean>();
  return (owner) => {
    const key = owner.pid === self.pid ? `${owner.host}:${owner.pid}:${owner.instance}` : `${owner.host}:${owner.pid}`;
    let alive = known.get(key);
    if (alive === undefined) known.set(key, (alive = isOwnerAlive(owner)));
    return alive;
  };
}

function toRow(parent: ParentSummary, subtask: ParentSummary['subtasks'][number], interrupted: boolean): StatusRow {
  return { task_id: subtask.task_id, parent_task_id: parent.parent_task_id, title: subtask.title, status: subtask.status, specialist_type: subtask.specialist_type, interrupted };
}

function countArchived(summaries: readonly ParentSummary[]): number {
  let n = 0;
  for (const s of summaries) if (s.location === 'archive') n++;
  return n;
}

function page(request: GetStatusRequest): { offset: number; limit: number } {
  const limit = request.limit ?? DEFAULT_STATUS_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_STATUS_LIMIT) {
    throw new OrchestratorError('INVALID_INPUT', `limit must be a whole number from 1 to ${MAX_STATUS_LIMIT}; got ${String(request.limit)}.`);
  }
  return { offset: request.cursor ? decodeCursor(request.cursor) : 0, limit };
}

function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new OrchestratorError('INVALID_INPUT', `cursor "${cursor.slice(0, 40)}" is not one this server returned. Pass next_cursor from the previous reply, or leave it out for the first page.`);
  return Number(match[1]);
}



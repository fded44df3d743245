import { OrchestratorError, unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { isInterrupted, statusCounts } from '../domain/lifecycle.js';
import { leaseExpired } from '../domain/leases.js';
import { SUBTASK_STATUSES, type StatusCounts, type SubtaskStatus } from '../domain/model.js';
import type { AppContext } from './context.js';
import { decodeCursor, encodeCursor } from './paging.js';
import { countThatFits, PROBLEMS_LISTED } from './reply-budget.js';
import type { ParentSummary, StoreProblem, StoreStatistics } from './ports.js';

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
  /** Who holds an active subtask and until when (expired: anyone may take it over); null otherwise. */
  lease: { agent_id: string; expires_at: string; expired: boolean } | null;
}

export interface GetStatusResult {
  counts: StatusCounts & { total: number };
  parents: { active: number; archived: number | null };
  tasks: StatusRow[];
  total_matching: number;
  next_cursor: string | null;
  interrupted_subtasks: StatusRow[];
  /** The first PROBLEMS_LISTED; storage_problem_count says how many there are. */
  storage_problems: StoreProblem[];
  storage_problem_count: number;
}

export const DEFAULT_STATUS_LIMIT = 100;
export const MAX_STATUS_LIMIT = 500;
const MAX_INTERRUPTED_LISTED = 50;

/**
 * get_status: counts per status over everything that matches, and one page of subtasks, most recently
 * updated parents first. Counts come from aggregates the store keeps up to date and the page is read
 * from the front of the ordered index, so a call costs the same with ten or ten thousand parents.
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
  const stats = parentFilter ? tally(selected) : await ctx.store.statistics({ includeArchived });
  const isOwnerAlive = remembered(ctx);
  const now = ctx.clock.now();
  const interrupted = (s: ParentSummary['subtasks'][number]) => isInterrupted(s, isOwnerAlive, now);
  const total = SUBTASK_STATUSES.reduce((sum, status) => sum + stats.counts[status], 0);
  const matching = request.status ? stats.counts[request.status] : total;
  const row = (p: ParentSummary, s: ParentSummary['subtasks'][number]) => toRow(p, s, interrupted(s), now);
  const rows = pageOf(selected, request.status, offset, limit, row);
  const tasks = rows.slice(0, countThatFits(rows)); // a page is cut short rather than outgrow the reply
  const problems = ctx.store.problems();
  return {
    counts: { ...stats.counts, total },
    parents: { active: stats.parents.active, archived: includeArchived ? stats.parents.archived : null },
    tasks,
    total_matching: matching,
    next_cursor: offset + tasks.length < matching ? encodeCursor(offset + tasks.length) : null,
    interrupted_subtasks: stats.withActiveSubtasks.flatMap((p) => p.subtasks.filter(interrupted).map((s) => row(p, s))).slice(0, MAX_INTERRUPTED_LISTED),
    storage_problems: problems.slice(0, PROBLEMS_LISTED),
    storage_problem_count: problems.length,
  };
}

/** Rows offset to offset + limit of the subtasks (with that status), walking parents from the front. */
function pageOf(parents: readonly ParentSummary[], status: SubtaskStatus | undefined, offset: number, limit: number, toRow: (p: ParentSummary, s: ParentSummary['subtasks'][number]) => StatusRow): StatusRow[] {
  const rows: StatusRow[] = [];
  let seen = 0;
  for (const parent of parents) {
    for (const subtask of parent.subtasks) {
      if (status && subtask.status !== status) continue;
      if (seen++ >= offset) rows.push(toRow(parent, subtask));
      if (rows.length === limit) return rows;
    }
  }
  return rows;
}

/** The statistics of a few parents, counted directly. */
function tally(parents: readonly ParentSummary[]): StoreStatistics {
  return {
    counts: statusCounts(parents.flatMap((p) => p.subtasks)),
    parents: { active: parents.filter((p) => p.location === 'active').length, archived: parents.filter((p) => p.location === 'archive').length },
    withActiveSubtasks: parents.filter((p) => p.subtasks.some((s) => s.status === 'active')),
  };
}

/**
 * Asks about each process once per call: checking a dead pid costs an exception, and a dead process
 * may have left many subtasks active. Only for this server's own pid does the instance matter.
 */
function remembered({ isOwnerAlive, owner: self }: AppContext): AppContext['isOwnerAlive'] {
  const known = new Map<string, boolean>();
  return (owner) => {
    const key = `${owner.host}:${owner.boot}:${owner.pidns}:${owner.pid}${owner.pid === self.pid ? `:${owner.instance}` : ''}`;
    let alive = known.get(key);
    if (alive === undefined) known.set(key, (alive = isOwnerAlive(owner)));
    return alive;
  };
}

function toRow(parent: ParentSummary, subtask: ParentSummary['subtasks'][number], interrupted: boolean, now: Date): StatusRow {
  const lease = subtask.status === 'active' && subtask.lease ? { ...subtask.lease, expired: leaseExpired(subtask.lease, now) } : null;
  return { task_id: subtask.task_id, parent_task_id: parent.parent_task_id, title: subtask.title, status: subtask.status, specialist_type: subtask.specialist_type, interrupted, lease };
}


function page(request: GetStatusRequest): { offset: number; limit: number } {
  const limit = request.limit ?? DEFAULT_STATUS_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_STATUS_LIMIT) {
    throw new OrchestratorError('INVALID_INPUT', `limit must be a whole number from 1 to ${MAX_STATUS_LIMIT}; got ${String(request.limit)}.`);
  }
  return { offset: decodeCursor(request.cursor), limit };
}

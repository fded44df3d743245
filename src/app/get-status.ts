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
  const summaries = await ctx.store.list({ includeArchived });
  const selected = parentFilter ? summaries.filter((s) => s.parent_task_id === parentFilter) : summaries;
  if (parentFilter && selected.length === 0) {
    throw new OrchestratorError('TASK_NOT_FOUND', `No task ${parentFilter}. Call orchestrator_get_status without parent_task_id to list the tasks.`, { parent_task_id: parentFilter });
  }
  const rows = toRows(ctx, sortByRecent(selected));
  const counts = statusCounts(rows);
  const matching = request.status ? rows.filter((r) => r.status === request.status) : rows;
  const { offset, limit } = page(request);
  const next = offset + limit < matching.length ? encodeCursor(offset + limit) : null;
  return {
    counts: { ...counts, total: rows.length },
    parents: { active: summaries.filter((s) => s.location === 'active').length, archived: includeArchived ? summaries.filter((s) => s.location === 'archive').length : null },
    tasks: matching.slice(offset, offset + limit),
    total_matching: matching.length,
    next_cursor: next,
    interrupted_subtasks: rows.filter((r) => r.interrupted).slice(0, MAX_INTERRUPTED_LISTED),
    storage_problems: ctx.store.problems(),
  };
}

export function sortByRecent(summaries: ParentSummary[]): ParentSummary[] {
  return [...summaries].sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : a.parent_task_id.localeCompare(b.parent_task_id)));
}

function toRows(ctx: AppContext, summaries: ParentSummary[]): StatusRow[] {
  return summaries.flatMap((p) =>
    p.subtasks.map((s) => ({
      task_id: s.task_id,
      parent_task_id: p.parent_task_id,
      title: s.title,
      status: s.status,
      specialist_type: s.specialist_type,
      interrupted: s.status === 'active' && (!s.active_owner || !ctx.isOwnerAlive(s.active_owner)),
    })),
  );
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


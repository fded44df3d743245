import { OrchestratorError, unwrap } from '../domain/errors.js';
import { eventsOf, type HistoryEvent } from '../domain/history.js';
import { checkTaskId } from '../domain/ids.js';
import { locateSubtask, type AppContext } from './context.js';
import { decodeCursor, encodeCursor } from './paging.js';
import { countThatFits } from './reply-budget.js';

export interface GetHistoryRequest {
  task_id: unknown;
  parent_task_id?: unknown;
  limit?: number;
  cursor?: string;
}

export interface GetHistoryResult {
  task_id: string;
  parent_task_id: string;
  /** Whether task_id is the parent (all its events) or one subtask (only that subtask's). */
  kind: 'parent' | 'subtask';
  events: HistoryEvent[];
  total_events: number;
  next_cursor: string | null;
}

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 500;

/** get_history: the transitions of a parent (all of them) or of one subtask, oldest first, a page at a time. Reads only. */
export async function getHistory(ctx: AppContext, request: GetHistoryRequest): Promise<GetHistoryResult> {
  const limit = request.limit ?? DEFAULT_HISTORY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new OrchestratorError('INVALID_INPUT', `limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}; got ${String(request.limit)}.`);
  }
  const offset = decodeCursor(request.cursor);
  const id = unwrap(checkTaskId(request.task_id));
  const isParent = (await ctx.store.locationOf(id)) !== null;
  const parentTaskId = isParent ? id : (await locateSubtask(ctx, id, request.parent_task_id)).parentTaskId;
  const parent = await ctx.store.read(parentTaskId);
  const all = eventsOf(parent, id);
  const { events, next } = pageOfEvents(all, offset, limit);
  return { task_id: id, parent_task_id: parentTaskId, kind: isParent ? 'parent' : 'subtask', events, total_events: all.length, next_cursor: next === null ? null : encodeCursor(next) };
}

/**
 * Events offset to offset + limit, cut shorter when they would make the reply large (notes are short,
 * but a page of 500 still adds up); `next` is where the following page starts, null at the end.
 * History only grows at its end, so an offset stays exact between pages.
 */
export function pageOfEvents(all: readonly HistoryEvent[], offset: number, limit: number): { events: HistoryEvent[]; next: number | null } {
  const candidates = all.slice(offset, offset + limit);
  const events = candidates.slice(0, countThatFits(candidates));
  const end = offset + events.length;
  return { events, next: end < all.length ? end : null };
}

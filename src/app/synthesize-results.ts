import { unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { entryOf, subtasksInReportOrder, synthesize, type Synthesis } from '../domain/synthesis.js';
import type { AppContext } from './context.js';
import { decodeCursor, encodeCursor } from './paging.js';
import { countThatFits } from './reply-budget.js';

export interface SynthesizeResult extends Synthesis {
  archived: boolean;
  /** Pass as cursor for the next part of the report; null when this part ends it. */
  next_cursor: string | null;
}

/**
 * synthesize_results: the report over an active or archived parent. It only reads: completing the
 * last subtask archives the parent, and a move that failed then is finished by the next start (or
 * doctor --fix), so the tool can be annotated read-only and called as often as wanted.
 */
export async function synthesizeResults(ctx: AppContext, request: { parent_task_id: unknown; cursor?: string }): Promise<SynthesizeResult> {
  const parentTaskId = unwrap(checkTaskId(request.parent_task_id, 'parent_task_id'));
  const first = decodeCursor(request.cursor);
  const parent = await ctx.store.read(parentTaskId);
  // Results are bounded each (10,000 characters), a plan's 200 of them are not: a long report comes in parts.
  const ordered = subtasksInReportOrder(parent);
  const count = countThatFits(ordered.slice(first).map(entryOf));
  const next = first + count < ordered.length ? encodeCursor(first + count) : null;
  return { ...synthesize(parent, { first, count }), next_cursor: next, archived: (await ctx.store.locationOf(parentTaskId)) === 'archive' };
}

import { unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { synthesize, type Synthesis } from '../domain/synthesis.js';
import type { AppContext } from './context.js';

export interface SynthesizeResult extends Synthesis {
  archived: boolean;
}

/**
 * synthesize_results: the report over an active or archived parent. It only reads: completing the
 * last subtask archives the parent, and a move that failed then is finished by the next start (or
 * doctor --fix), so the tool can be annotated read-only and called as often as wanted.
 */
export async function synthesizeResults(ctx: AppContext, request: { parent_task_id: unknown }): Promise<SynthesizeResult> {
  const parentTaskId = unwrap(checkTaskId(request.parent_task_id, 'parent_task_id'));
  const parent = await ctx.store.read(parentTaskId);
  return { ...synthesize(parent), archived: (await ctx.store.locationOf(parentTaskId)) === 'archive' };
}

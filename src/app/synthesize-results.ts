import { unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { synthesize, type Synthesis } from '../domain/synthesis.js';
import type { AppContext } from './context.js';

export interface SynthesizeResult extends Synthesis {
  archived: boolean;
}

/** synthesize_results: the report over an active or archived parent; a completed parent is archived if it was not yet. */
export async function synthesizeResults(ctx: AppContext, request: { parent_task_id: unknown }): Promise<SynthesizeResult> {
  const parentTaskId = unwrap(checkTaskId(request.parent_task_id, 'parent_task_id'));
  const parent = await ctx.store.read(parentTaskId);
  const report = synthesize(parent);
  // Archiving is housekeeping: a read-only store still answers with the report.
  if (report.complete && !ctx.store.readOnly) await ctx.store.archiveIfComplete(parentTaskId);
  return { ...report, archived: (await ctx.store.locationOf(parentTaskId)) === 'archive' };
}

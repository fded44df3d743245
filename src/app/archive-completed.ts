import type { ParentTask } from '../domain/model.js';
import type { AppContext } from './context.js';

export interface ArchiveOutcome {
  archived: { parent_task_id: string; completed_at: string | null }[];
  /** Completed, but more recently than --older-than: left in tasks/active/. */
  kept: { parent_task_id: string; completed_at: string | null }[];
  failed: { parent_task_id: string; reason: string }[];
}

/**
 * Moves completed parents still in tasks/active/ to tasks/archive/ (each under its lock, as the server
 * does), optionally only those completed at least `olderThanMs` ago. A parent whose completion time
 * is unknown counts as old.
 */
export async function archiveCompleted(ctx: AppContext, options: { olderThanMs: number | null }): Promise<ArchiveOutcome> {
  const outcome: ArchiveOutcome = { archived: [], kept: [], failed: [] };
  const completed = (await ctx.store.list({ includeArchived: false })).filter((s) => s.status === 'completed');
  const cutoff = options.olderThanMs === null ? null : ctx.clock.now().getTime() - options.olderThanMs;
  for (const summary of completed) {
    const id = summary.parent_task_id;
    try {
      const completedAt = completionTime(await ctx.store.read(id));
      if (cutoff !== null && completedAt !== null && Date.parse(completedAt) > cutoff) {
        outcome.kept.push({ parent_task_id: id, completed_at: completedAt });
        continue;
      }
      if (await ctx.store.archiveIfComplete(id)) outcome.archived.push({ parent_task_id: id, completed_at: completedAt });
    } catch (error) {
      outcome.failed.push({ parent_task_id: id, reason: (error as Error).message });
    }
  }
  if (outcome.archived.length) ctx.logger.info('Archived completed tasks on request', { archived: outcome.archived.map((a) => a.parent_task_id) });
  return outcome;
}

/** When the last subtask completed, as recorded; null when no time can be read. */
export function completionTime(parent: ParentTask): string | null {
  const candidates = [parent.completed_at, ...parent.subtasks.map((s) => s.completed_at), parent.updated_at].filter((t): t is string => typeof t === 'string' && !Number.isNaN(Date.parse(t)));
  if (candidates.length === 0) return null;
  return candidates.reduce((latest, t) => (Date.parse(t) > Date.parse(latest) ? t : latest));
}

import { isInterrupted, progressOf, statusCounts } from '../domain/lifecycle.js';
import type { Progress, StatusCounts } from '../domain/model.js';
import type { AppContext } from './context.js';
import type { ParentSummary, StoreProblem } from './ports.js';

export interface SubtaskMention {
  task_id: string;
  title: string;
  specialist_type: string;
  /** For blocked and failed subtasks: why, as recorded. */
  reason?: string | null;
}

export interface ParentStatusView extends Omit<ParentSummary, 'subtasks'> {
  progress: Progress;
  status_counts: StatusCounts;
  /** Active subtasks whose session is gone: to be resumed. */
  interrupted_subtasks: SubtaskMention[];
  blocked_subtasks: SubtaskMention[];
  failed_subtasks: SubtaskMention[];
}

export interface StatusReport {
  base_dir: string;
  include_archived: boolean;
  parents: ParentStatusView[];
  totals: { parents: number; unfinished_parents: number; subtasks: StatusCounts & { total: number } };
  storage_problems: StoreProblem[];
}

/** The overview a person asks for: every unfinished parent (and, when asked, the archived ones), most recent first. */
export async function statusReport(ctx: AppContext, options: { includeArchived: boolean }): Promise<StatusReport> {
  const summaries = await ctx.store.list({ includeArchived: options.includeArchived });
  const shown = options.includeArchived ? summaries : summaries.filter((s) => s.status !== 'completed'); // list() is most recent first
  const parents: ParentStatusView[] = [];
  for (const summary of shown) parents.push(await parentView(ctx, summary));
  const allSubtasks = shown.flatMap((s) => s.subtasks);
  return {
    base_dir: ctx.baseDir,
    include_archived: options.includeArchived,
    parents,
    totals: {
      parents: shown.length,
      unfinished_parents: shown.filter((s) => s.status !== 'completed').length,
      subtasks: { ...statusCounts(allSubtasks), total: allSubtasks.length },
    },
    storage_problems: ctx.store.problems(),
  };
}

async function parentView(ctx: AppContext, summary: ParentSummary): Promise<ParentStatusView> {
  const counts = statusCounts(summary.subtasks);
  const mention = (s: ParentSummary['subtasks'][number]): SubtaskMention => ({ task_id: s.task_id, title: s.title, specialist_type: s.specialist_type });
  const interrupted = summary.subtasks.filter((s) => isInterrupted(s, ctx.isOwnerAlive, ctx.clock.now()));
  const reasons = counts.blocked + counts.failed > 0 ? await reasonsOf(ctx, summary.parent_task_id) : new Map<string, string | null>();
  const withReason = (status: 'blocked' | 'failed') => summary.subtasks.filter((s) => s.status === status).map((s) => ({ ...mention(s), reason: reasons.get(s.task_id) ?? null }));
  return {
    parent_task_id: summary.parent_task_id,
    title: summary.title,
    description: summary.description,
    location: summary.location,
    status: summary.status,
    created_at: summary.created_at,
    updated_at: summary.updated_at,
    progress: progressOf(summary),
    status_counts: counts,
    interrupted_subtasks: interrupted.map(mention),
    blocked_subtasks: withReason('blocked'),
    failed_subtasks: withReason('failed'),
  };
}

/** Why subtasks are blocked or failed: only in the full file, read for the parents that have such subtasks. */
async function reasonsOf(ctx: AppContext, parentTaskId: string): Promise<Map<string, string | null>> {
  const parent = await ctx.store.read(parentTaskId).catch(() => null);
  return new Map((parent?.subtasks ?? []).map((s) => [s.task_id, s.blocked_reason ?? s.results ?? null]));
}

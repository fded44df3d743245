import { interruptedSubtasks, nextRecommended, progressOf, statusCounts } from '../domain/lifecycle.js';
import type { Progress, StatusCounts } from '../domain/model.js';
import { roleSummary } from '../domain/roles.js';
import { brief, type AppContext } from './context.js';
import { decodeCursor, encodeCursor } from './paging.js';
import type { StoreProblem } from './ports.js';

export interface ActiveTaskView {
  parent_task_id: string;
  title: string;
  description: string;
  progress: Progress;
  status_counts: StatusCounts;
  subtasks: { task_id: string; title: string; status: string; specialist_type: string }[];
  interrupted_subtasks: { task_id: string; title: string; specialist_type: string; started_at: string | null }[];
  next_recommended_task: { task_id: string; title: string; specialist_type: string } | null;
  updated_at: string;
}

export interface InitializeSessionResult {
  session_initialized: true;
  base_dir: string;
  orchestrator_context: {
    role: string;
    capabilities: string[];
    instructions: string;
    specialist_roles: Record<string, string>;
  };
  /** One page of the unfinished tasks, most recently updated first. */
  active_tasks: ActiveTaskView[];
  /** All unfinished tasks, on every page. */
  active_task_count: number;
  /** Pass as cursor for the next page; null on the last one. */
  next_cursor: string | null;
  storage_problems: StoreProblem[];
  role_file_errors: string[];
  resume_hint: string;
}

/** Unfinished parents per page. Each comes with all its subtasks (a plan has at most 200), so a reply stays bounded. */
export const ACTIVE_TASKS_PAGE = 20;

/**
 * initialize_session: the guidance, the roles, and the unfinished tasks a page at a time (every one of
 * them, following next_cursor), so the assistant can offer to resume.
 */
export async function initializeSession(ctx: AppContext, request: { cursor?: string } = {}): Promise<InitializeSessionResult> {
  const offset = decodeCursor(request.cursor);
  const unfinished = (await ctx.store.list({ includeArchived: false })).filter((s) => s.status !== 'completed');
  const end = offset + ACTIVE_TASKS_PAGE;
  const shown: ActiveTaskView[] = [];
  for (const summary of unfinished.slice(offset, end)) {
    const parent = await ctx.store.read(summary.parent_task_id).catch(() => null);
    if (!parent) continue; // changed or removed since it was listed; get_status reports it
    const next = nextRecommended(parent);
    shown.push({
      parent_task_id: parent.parent_task_id,
      title: parent.title ?? summary.title,
      description: parent.description,
      progress: progressOf(parent),
      status_counts: statusCounts(parent.subtasks),
      subtasks: parent.subtasks.map((s) => ({ task_id: s.task_id, title: s.title, status: s.status, specialist_type: s.specialist_type })),
      interrupted_subtasks: interruptedSubtasks(parent, (o) => ctx.isOwnerAlive(o)).map((s) => ({ task_id: s.task_id, title: s.title, specialist_type: s.specialist_type, started_at: s.started_at ?? null })),
      next_recommended_task: brief(next),
      updated_at: parent.updated_at ?? parent.created_at,
    });
  }
  const nextCursor = end < unfinished.length ? encodeCursor(end) : null;
  const guidance = ctx.roles.orchestrator;
  return {
    session_initialized: true,
    base_dir: ctx.baseDir,
    orchestrator_context: {
      role: guidance.role_definition,
      capabilities: guidance.expertise,
      instructions: guidance.approach.map((step, i) => `${i + 1}. ${step}`).join('\n'),
      specialist_roles: Object.fromEntries([...ctx.roles.roles.values()].map((r) => [r.name, roleSummary(r)])),
    },
    active_tasks: shown,
    active_task_count: unfinished.length,
    next_cursor: nextCursor,
    storage_problems: ctx.store.problems(),
    role_file_errors: [...ctx.roles.errors],
    resume_hint: resumeHint(shown, unfinished.length, nextCursor),
  };
}

function resumeHint(shown: ActiveTaskView[], total: number, nextCursor: string | null): string {
  if (total === 0) return 'No unfinished tasks. Plan new work with orchestrator_plan_task.';
  const interrupted = shown.reduce((n, t) => n + t.interrupted_subtasks.length, 0);
  const more = nextCursor ? `; call orchestrator_initialize_session with cursor "${nextCursor}" for more` : '';
  const page = total > shown.length ? ` (${shown.length} listed here${more})` : '';
  return `${total} unfinished task(s)${page}${interrupted ? `, ${interrupted} subtask(s) listed here interrupted by a previous session` : ''}. Offer the user to resume: execute the interrupted or next recommended subtask with orchestrator_execute_subtask.`;
}

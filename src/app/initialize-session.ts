import { interruptedSubtasks, nextRecommended, progressOf, statusCounts } from '../domain/lifecycle.js';
import { leaseExpired } from '../domain/leases.js';
import type { ParentTask, Progress, StatusCounts } from '../domain/model.js';
import { roleSummary } from '../domain/roles.js';
import { brief, type AppContext } from './context.js';
import { decodeCursor, encodeCursor } from './paging.js';
import type { StoreProblem } from './ports.js';
import { jsonSize, LISTING_BUDGET_CHARS, PROBLEMS_LISTED } from './reply-budget.js';

export interface ActiveTaskView {
  parent_task_id: string;
  title: string;
  description: string;
  progress: Progress;
  status_counts: StatusCounts;
  /** lease: who works on an active subtask and until when (expired: anyone may take it over). */
  subtasks: { task_id: string; title: string; status: string; specialist_type: string; lease?: { agent_id: string; expires_at: string; expired: boolean } }[];
  interrupted_subtasks: { task_id: string; title: string; specialist_type: string; started_at: string | null; lease: { agent_id: string; expires_at: string } | null }[];
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
  /** The first PROBLEMS_LISTED; storage_problem_count says how many there are. */
  storage_problems: StoreProblem[];
  storage_problem_count: number;
  role_file_errors: string[];
  resume_hint: string;
}

/** Unfinished parents per page at most; fewer when their subtasks would outgrow the reply (LISTING_BUDGET_CHARS). */
export const ACTIVE_TASKS_PAGE = 20;

/**
 * initialize_session: the guidance, the roles, and the unfinished tasks a page at a time (every one of
 * them, following next_cursor), so the assistant can offer to resume.
 */
export async function initializeSession(ctx: AppContext, request: { cursor?: string } = {}): Promise<InitializeSessionResult> {
  const offset = decodeCursor(request.cursor);
  const unfinished = (await ctx.store.list({ includeArchived: false })).filter((s) => s.status !== 'completed');
  const shown: ActiveTaskView[] = [];
  let end = offset;
  let size = 0;
  // A page ends at ACTIVE_TASKS_PAGE tasks, or earlier when the next one would outgrow the reply (a task can have 200 subtasks).
  for (const summary of unfinished.slice(offset, offset + ACTIVE_TASKS_PAGE)) {
    const parent = await ctx.store.read(summary.parent_task_id).catch(() => null);
    const view = parent ? viewOf(ctx, parent, summary.title) : null;
    size += view ? jsonSize(view) : 0;
    if (shown.length > 0 && size > LISTING_BUDGET_CHARS) break;
    end++;
    if (view) shown.push(view); // else changed or removed since it was listed; get_status reports it
  }
  const nextCursor = end < unfinished.length ? encodeCursor(end) : null;
  const guidance = ctx.roles.orchestrator;
  const problems = ctx.store.problems();
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
    storage_problems: problems.slice(0, PROBLEMS_LISTED),
    storage_problem_count: problems.length,
    role_file_errors: ctx.roles.errors.slice(0, PROBLEMS_LISTED),
    resume_hint: resumeHint(shown, unfinished.length, nextCursor),
  };
}

function viewOf(ctx: AppContext, parent: ParentTask, listedTitle: string): ActiveTaskView {
  const now = ctx.clock.now();
  const next = nextRecommended(parent);
  return {
    parent_task_id: parent.parent_task_id,
    title: parent.title ?? listedTitle,
    description: parent.description,
    progress: progressOf(parent),
    status_counts: statusCounts(parent.subtasks),
    subtasks: parent.subtasks.map((s) => ({ task_id: s.task_id, title: s.title, status: s.status, specialist_type: s.specialist_type, ...(s.status === 'active' && s.lease ? { lease: { ...s.lease, expired: leaseExpired(s.lease, now) } } : {}) })),
    interrupted_subtasks: interruptedSubtasks(parent, (o) => ctx.isOwnerAlive(o), now).map((s) => ({ task_id: s.task_id, title: s.title, specialist_type: s.specialist_type, started_at: s.started_at ?? null, lease: s.lease ?? null })),
    next_recommended_task: brief(next),
    updated_at: parent.updated_at ?? parent.created_at,
  };
}

function resumeHint(shown: ActiveTaskView[], total: number, nextCursor: string | null): string {
  if (total === 0) return 'No unfinished tasks. Plan new work with orchestrator_plan_task.';
  const interrupted = shown.reduce((n, t) => n + t.interrupted_subtasks.length, 0);
  const more = nextCursor ? `; call orchestrator_initialize_session with cursor "${nextCursor}" for more` : '';
  const page = total > shown.length ? ` (${shown.length} listed here${more})` : '';
  return `${total} unfinished task(s)${page}${interrupted ? `, ${interrupted} subtask(s) listed here interrupted by a previous session` : ''}. Offer the user to resume: execute the interrupted or next recommended subtask with orchestrator_execute_subtask.`;
}

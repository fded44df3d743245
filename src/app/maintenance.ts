import { OrchestratorError } from '../domain/errors.js';
import { appendEvents } from '../domain/history.js';
import { releaseExpiredLease, releaseSubtask } from '../domain/leases.js';
import { isInterrupted } from '../domain/lifecycle.js';
import type { ParentTask, Subtask } from '../domain/model.js';
import { archiveCompleted } from './archive-completed.js';
import { nowIso, type AppContext } from './context.js';
import { eventSource } from './history.js';
import type { HealthFinding, RepairOutcome } from './ports.js';
import { countThatFits } from './reply-budget.js';

export const MAINTENANCE_ACTIONS = ['report', 'release_expired_leases', 'archive_finished', 'repair'] as const;
export type MaintenanceAction = (typeof MAINTENANCE_ACTIONS)[number];

export interface MaintenanceRequest {
  action: unknown;
}

export interface MaintenanceResult {
  action: MaintenanceAction;
  /** One sentence: what was found or done. */
  summary: string;
  /** The findings, releases, archived tasks or repairs: the first MAX_ITEMS_LISTED (fewer when large). */
  items: Record<string, unknown>[];
  /** How many there are in all. */
  total_items: number;
  /** Numbers that sum the action up (problems and notes; released; archived; repaired). */
  counts: Record<string, number>;
}

/** At most this many items are listed in a reply; total_items says how many there are. */
export const MAX_ITEMS_LISTED = 20;

/**
 * orchestrator_maintenance: the health report of `doctor`, and the repairs that lose nothing: releasing
 * subtasks whose lease expired (or whose server is gone), archiving finished tasks, and the safe repairs
 * of `doctor --fix` (corrupted files are moved aside with a report, never deleted). Nothing here deletes.
 */
export async function maintain(ctx: AppContext, request: MaintenanceRequest): Promise<MaintenanceResult> {
  const action = checkAction(request.action);
  if (action !== 'report' && ctx.store.readOnly) {
    throw new OrchestratorError('STORAGE_ERROR', `${ctx.baseDir}/.task_orchestrator is read-only, so "${action}" can change nothing. Nothing was changed. Only "report" works on a read-only store; make the folder writable first.`, { read_only: true, action });
  }
  switch (action) {
    case 'report':
      return report(await ctx.maintenance.diagnose());
    case 'release_expired_leases':
      return releaseExpired(ctx);
    case 'archive_finished':
      return archiveFinished(ctx);
    case 'repair':
      return repairStore(ctx);
  }
}

function checkAction(action: unknown): MaintenanceAction {
  if (typeof action === 'string' && (MAINTENANCE_ACTIONS as readonly string[]).includes(action)) return action as MaintenanceAction;
  throw new OrchestratorError('INVALID_INPUT', `action must be one of ${MAINTENANCE_ACTIONS.join(', ')}; got ${JSON.stringify(action)?.slice(0, 40) ?? 'nothing'}. There is no action that deletes tasks or files: remove them by hand if you must.`, { allowed: [...MAINTENANCE_ACTIONS] });
}

function listed<T>(items: readonly T[]): T[] {
  const first = items.slice(0, MAX_ITEMS_LISTED);
  return first.slice(0, countThatFits(first));
}

function result(action: MaintenanceAction, summary: string, all: readonly object[], counts: Record<string, number>): MaintenanceResult {
  return { action, summary, items: listed(all) as Record<string, unknown>[], total_items: all.length, counts };
}

function report(findings: HealthFinding[]): MaintenanceResult {
  const problems = findings.filter((f) => f.severity === 'problem');
  // Problems first: a long list of notes (held locks) must not push them out of the reply.
  const ordered = [...problems, ...findings.filter((f) => f.severity !== 'problem')].map(briefFinding);
  const fixable = problems.filter((f) => f.fixable).length;
  const summary = problems.length
    ? `Not healthy: ${problems.length} problem(s), ${fixable} of them fixed by action "repair"; ${findings.length - problems.length} note(s).`
    : `Healthy: no problems, ${findings.length} note(s).`;
  return result('report', summary, ordered, { problems: problems.length, notes: findings.length - problems.length, fixable });
}

function briefFinding(f: HealthFinding): Record<string, unknown> {
  return { kind: f.kind, severity: f.severity, subject: f.subject, message: f.message, meaning: f.meaning, remedy: f.remedy, fixable: f.fixable, ...(f.parent_task_id ? { parent_task_id: f.parent_task_id } : {}) };
}

/** Active subtasks whose lease expired, or (without a lease) whose server is gone, go back to pending. */
async function releaseExpired(ctx: AppContext): Promise<MaintenanceResult> {
  const released: { parent_task_id: string; task_id: string; reason: string }[] = [];
  const failed: { parent_task_id: string; reason: string }[] = [];
  const { withActiveSubtasks } = await ctx.store.statistics({ includeArchived: false });
  for (const summary of withActiveSubtasks) {
    const id = summary.parent_task_id;
    const here: typeof released = [];
    try {
      await ctx.store.update(id, (current) => {
        here.length = 0;
        // Judged again under the lock: the holder may have renewed or completed it meanwhile.
        const now = nowIso(ctx);
        let next = current;
        for (const subtask of current.subtasks) {
          const reason = releaseReason(ctx, subtask, now);
          if (!reason) continue;
          next = appendEvents(release(next, subtask, now), eventSource(ctx), [{ task_id: subtask.task_id, from: 'active', to: 'pending', note: `released: ${reason}` }]);
          here.push({ parent_task_id: id, task_id: subtask.task_id, reason });
        }
        return next;
      });
      released.push(...here); // only once the write is on disk
    } catch (error) {
      failed.push({ parent_task_id: id, reason: (error as Error).message });
    }
  }
  if (released.length) ctx.logger.info('Released interrupted subtasks on request', { released });
  const summary = `${released.length} subtask(s) released back to pending${failed.length ? `; ${failed.length} task(s) could not be changed` : ''}.`;
  return result('release_expired_leases', summary, [...released, ...failed.map((f) => ({ ...f, failed: true }))], { released: released.length, failed: failed.length });
}

/** Why this subtask's work counts as abandoned, or null when it does not. */
function releaseReason(ctx: AppContext, subtask: Subtask, now: string): string | null {
  if (subtask.status !== 'active') return null;
  const lease = subtask.lease;
  if (lease) return Date.parse(lease.expires_at) < Date.parse(now) ? `the lease of ${lease.agent_id} expired at ${lease.expires_at}` : null;
  if (!isInterrupted(subtask, ctx.isOwnerAlive)) return null;
  const owner = subtask.active_owner;
  return owner ? `the server that started it (pid ${owner.pid} on ${owner.host}) is gone` : 'no running server recorded as its owner';
}

function release(parent: ParentTask, subtask: Subtask, now: string): ParentTask {
  return subtask.lease ? releaseExpiredLease(parent, subtask.task_id, now) : releaseSubtask(parent, subtask.task_id, now);
}

async function archiveFinished(ctx: AppContext): Promise<MaintenanceResult> {
  const outcome = await archiveCompleted(ctx, { olderThanMs: null });
  const items = [...outcome.archived, ...outcome.failed.map((f) => ({ ...f, failed: true }))];
  const summary = `${outcome.archived.length} finished task(s) moved to tasks/archive/${outcome.failed.length ? `; ${outcome.failed.length} could not be` : ''}.`;
  return result('archive_finished', summary, items, { archived: outcome.archived.length, failed: outcome.failed.length });
}

async function repairStore(ctx: AppContext): Promise<MaintenanceResult> {
  const outcomes: RepairOutcome[] = await ctx.maintenance.repair();
  const left = (await ctx.maintenance.diagnose()).filter((f) => f.severity === 'problem');
  const done = outcomes.filter((o) => o.done).length;
  const summary = `${done} repair(s) made${outcomes.length > done ? `, ${outcomes.length - done} not` : ''}; ${left.length} problem(s) remain${left.length ? ' (action "report" lists them with what to do by hand)' : ''}.`;
  return result('repair', summary, outcomes.map((o) => ({ ...o })), { repaired: done, not_repaired: outcomes.length - done, problems_left: left.length });
}

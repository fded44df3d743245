import type { ActiveOwner, ParentTask, Subtask } from '../domain/model.js';
import { OrchestratorError, unwrap } from '../domain/errors.js';
import { checkTaskId } from '../domain/ids.js';
import { checkAgentId } from '../domain/leases.js';
import type { Clock, Logger, Maintenance, RoleCatalog, TaskStore } from './ports.js';

/** Everything the use cases need, passed in: no use case touches the file system or the clock directly. */
export interface AppContext {
  store: TaskStore;
  roles: RoleCatalog;
  logger: Logger;
  clock: Clock;
  /** This process, recorded on subtasks it marks active. */
  owner: ActiveOwner;
  /** Whether the process that marked a subtask active is still running. */
  isOwnerAlive(owner: ActiveOwner): boolean;
  /** The agent of calls that name none: this MCP session (one per stdio server process, one per HTTP session). */
  sessionAgentId: string;
  /** How long execute_subtask gives a subtask to its agent (MCP_TASK_ORCHESTRATOR_LEASE_SECONDS). */
  leaseMs: number;
  /** The project folder, shown to the assistant. */
  baseDir: string;
  /** Health check and safe repairs of the store (orchestrator_maintenance). */
  maintenance: Maintenance;
}

export const nowIso = (ctx: AppContext) => ctx.clock.now().toISOString();

/** The agent a call acts for: the agent_id it names, else this session. */
export function agentOf(ctx: AppContext, rawAgentId: unknown): string {
  return unwrap(checkAgentId(rawAgentId)) ?? ctx.sessionAgentId;
}

/** Finds the parent of a subtask id; `parentTaskId` settles ids that Python-era files reused. */
export async function locateSubtask(ctx: AppContext, rawTaskId: unknown, rawParentId?: unknown): Promise<{ parentTaskId: string; taskId: string }> {
  const taskId = unwrap(checkTaskId(rawTaskId));
  if (rawParentId !== undefined && rawParentId !== null && rawParentId !== '') {
    return { parentTaskId: unwrap(checkTaskId(rawParentId, 'parent_task_id')), taskId };
  }
  const parents = await ctx.store.parentsOfSubtask(taskId);
  if (parents.length === 1) return { parentTaskId: parents[0]!, taskId };
  if (parents.length > 1) {
    throw new OrchestratorError('AMBIGUOUS_TASK_ID', `Subtask id ${taskId} exists in ${parents.length} tasks (${parents.join(', ')}), which files from the Python orchestrator allowed. Pass parent_task_id as well to say which one.`, { task_id: taskId, parent_task_ids: parents });
  }
  throw await notFound(ctx, taskId);
}

async function notFound(ctx: AppContext, taskId: string): Promise<OrchestratorError> {
  const asParent = await ctx.store.read(taskId).catch(() => null);
  if (asParent) {
    return new OrchestratorError('TASK_NOT_FOUND', `${taskId} is a parent task, not a subtask. Pass one of its subtask ids: ${asParent.subtasks.map((s) => s.task_id).join(', ')}.`, { task_id: taskId });
  }
  return new OrchestratorError('TASK_NOT_FOUND', `No subtask ${taskId} in the store. Use an id returned by orchestrator_plan_task, or call orchestrator_get_status to list them.`, { task_id: taskId });
}

export function subtaskOf(parent: ParentTask, taskId: string): Subtask {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  if (!subtask) throw new OrchestratorError('TASK_NOT_FOUND', `Task ${parent.parent_task_id} has no subtask ${taskId}.`, { task_id: taskId });
  return subtask;
}

export function brief(subtask: Subtask | null) {
  return subtask ? { task_id: subtask.task_id, title: subtask.title, specialist_type: subtask.specialist_type } : null;
}

import { findSubtask, missingDependencies, startSubtask, unmetDependencies } from '../domain/lifecycle.js';
import { renderSpecialistPrompt } from '../domain/prompt.js';
import { OrchestratorError, unwrap } from '../domain/errors.js';
import { checkClaim, grantLease } from '../domain/leases.js';
import type { Lease } from '../domain/model.js';
import { agentOf, locateSubtask, subtaskOf, type AppContext } from './context.js';
import { recordingHistory } from './history.js';

export interface ExecuteSubtaskRequest {
  task_id: unknown;
  force?: boolean;
  parent_task_id?: unknown;
  /** The agent taking the subtask; this session when absent. */
  agent_id?: unknown;
}

export interface ExecuteSubtaskResult {
  task_id: string;
  parent_task_id: string;
  title: string;
  specialist_type: string;
  status: 'active';
  /** The role-specific prompt; the MCP tool sends it as the reply's text. */
  specialist_prompt: string;
  dependency_results: { task_id: string; title: string; status: string; results: string | null; detailed_work_file: string | null }[];
  forced_past_dependencies: string[];
  /** The subtask is this agent's until expires_at; calling again renews it. */
  lease: Lease;
  next_step: string;
}

/** execute_subtask: marks the subtask active (recording this process as its owner) and returns its specialist prompt. */
export async function executeSubtask(ctx: AppContext, request: ExecuteSubtaskRequest): Promise<ExecuteSubtaskResult> {
  const agentId = agentOf(ctx, request.agent_id);
  const { parentTaskId, taskId } = await locateSubtask(ctx, request.task_id, request.parent_task_id);
  let forcedPast: string[] = [];
  // The claim is decided inside the update, under the parent's lock, on the file as it is now: of
  // several agents racing for one subtask, exactly one finds it free.
  const parent = await ctx.store.update(parentTaskId, recordingHistory(ctx, taskId, agentId, (current) => {
    const subtask = subtaskOf(current, taskId);
    if (!ctx.roles.roles.has(subtask.specialist_type)) throw unknownRole(taskId, subtask.specialist_type);
    const now = ctx.clock.now();
    const { renewal } = unwrap(checkClaim(current, taskId, { agentId, now, isOwnerAlive: ctx.isOwnerAlive }));
    const expiresAt = new Date(now.getTime() + ctx.leaseMs).toISOString();
    if (renewal && request.force !== true) {
      forcedPast = subtask.forced_past_dependencies ?? [];
      return grantLease(current, taskId, { agentId, expiresAt, owner: ctx.owner, previous: subtask.lease, now });
    }
    forcedPast = [...missingDependencies(current, subtask), ...unmetDependencies(current, subtask).map((d) => d.task_id)];
    const started = unwrap(startSubtask(current, taskId, { force: request.force === true, owner: ctx.owner, now: now.toISOString() }));
    return grantLease(started, taskId, { agentId, expiresAt, owner: ctx.owner, previous: subtask.status === 'active' ? subtask.lease : null, now });
  }));
  const subtask = subtaskOf(parent, taskId);
  const role = ctx.roles.roles.get(subtask.specialist_type)!;
  const prompt = renderSpecialistPrompt({ roleName: role.name, role, parent, subtask, template: ctx.roles.templateFor(role.name) });
  ctx.logger.info(`Started subtask ${taskId}`, { parent_task_id: parentTaskId, task_id: taskId, forced: forcedPast.length > 0, agent_id: agentId, lease_expires_at: subtask.lease?.expires_at });
  return {
    task_id: taskId,
    parent_task_id: parentTaskId,
    title: subtask.title,
    specialist_type: subtask.specialist_type,
    status: 'active',
    specialist_prompt: prompt,
    dependency_results: subtask.dependencies.flatMap((id) => {
      const dep = findSubtask(parent, id); // a dependency naming no subtask was only started past with force
      return dep ? [{ task_id: dep.task_id, title: dep.title, status: dep.status, results: dep.results, detailed_work_file: dep.detailed_work_file ?? null }] : [];
    }),
    forced_past_dependencies: forcedPast,
    lease: subtask.lease!,
    next_step: `Work on it as the ${role.name}, then call orchestrator_complete_subtask with task_id "${taskId}".`,
  };
}

function unknownRole(taskId: string, role: string): OrchestratorError {
  return new OrchestratorError('UNKNOWN_ROLE', `Subtask ${taskId} is for role "${role}", which is not defined any more. Define it again in .task_orchestrator/roles/custom_roles.yaml and restart the server; nothing was changed.`, { specialist_type: role });
}

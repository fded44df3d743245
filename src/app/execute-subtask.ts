import { findSubtask, missingDependencies, startSubtask, unmetDependencies } from '../domain/lifecycle.js';
import { renderSpecialistPrompt } from '../domain/prompt.js';
import { OrchestratorError, unwrap } from '../domain/errors.js';
import { recordingHistory } from './history.js';
import { locateSubtask, nowIso, subtaskOf, type AppContext } from './context.js';

export interface ExecuteSubtaskRequest {
  task_id: unknown;
  force?: boolean;
  parent_task_id?: unknown;
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
  next_step: string;
}

/** execute_subtask: marks the subtask active (recording this process as its owner) and returns its specialist prompt. */
export async function executeSubtask(ctx: AppContext, request: ExecuteSubtaskRequest): Promise<ExecuteSubtaskResult> {
  const { parentTaskId, taskId } = await locateSubtask(ctx, request.task_id, request.parent_task_id);
  let forcedPast: string[] = [];
  const parent = await ctx.store.update(parentTaskId, recordingHistory(ctx, taskId, (current) => {
    const subtask = subtaskOf(current, taskId);
    if (!ctx.roles.roles.has(subtask.specialist_type)) throw unknownRole(taskId, subtask.specialist_type);
    forcedPast = [...missingDependencies(current, subtask), ...unmetDependencies(current, subtask).map((d) => d.task_id)];
    return unwrap(startSubtask(current, taskId, { force: request.force === true, owner: ctx.owner, now: nowIso(ctx) }));
  }));
  const subtask = subtaskOf(parent, taskId);
  const role = ctx.roles.roles.get(subtask.specialist_type)!;
  const prompt = renderSpecialistPrompt({ roleName: role.name, role, parent, subtask, template: ctx.roles.templateFor(role.name) });
  ctx.logger.info(`Started subtask ${taskId}`, { parent_task_id: parentTaskId, task_id: taskId, forced: forcedPast.length > 0 });
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
    next_step: `Work on it as the ${role.name}, then call orchestrator_complete_subtask with task_id "${taskId}".`,
  };
}

function unknownRole(taskId: string, role: string): OrchestratorError {
  return new OrchestratorError('UNKNOWN_ROLE', `Subtask ${taskId} is for role "${role}", which is not defined any more. Define it again in .task_orchestrator/roles/custom_roles.yaml and restart the server; nothing was changed.`, { specialist_type: role });
}

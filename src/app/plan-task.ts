import { unwrap } from '../domain/errors.js';
import { validatePlan, type PlanRequest } from '../domain/plan.js';
import { recordPlanned } from '../domain/history.js';
import { nowIso, type AppContext } from './context.js';
import { historyAgent } from './history.js';

export interface PlanTaskResult {
  task_created: true;
  parent_task_id: string;
  description: string;
  complexity: string;
  subtasks: { task_id: string; handle: string; title: string; specialist_type: string; dependencies: string[]; estimated_effort: string }[];
  execution_order: string[];
  next_step: string;
}

/** plan_task: validates the whole plan, then stores it in one durable write. */
export async function planTask(ctx: AppContext, request: PlanRequest): Promise<PlanTaskResult> {
  const roles = new Set(ctx.roles.roles.keys());
  const now = nowIso(ctx);
  unwrap(validatePlan(request, roles, 'task_0000000000', now)); // reject bad plans before drawing an id
  let executionOrder: string[] = [];
  const parent = await ctx.store.create((id) => {
    const plan = unwrap(validatePlan(request, roles, id, now));
    executionOrder = plan.executionOrder;
    return recordPlanned(plan.parent, { at: now, agent: historyAgent(ctx) });
  });
  ctx.logger.info(`Planned task ${parent.parent_task_id} with ${parent.subtasks.length} subtasks`, { parent_task_id: parent.parent_task_id });
  const first = parent.subtasks.find((s) => s.task_id === executionOrder[0])!;
  return {
    task_created: true,
    parent_task_id: parent.parent_task_id,
    description: parent.description,
    complexity: parent.complexity,
    subtasks: parent.subtasks.map((s) => ({ task_id: s.task_id, handle: s.handle ?? s.task_id, title: s.title, specialist_type: s.specialist_type, dependencies: s.dependencies, estimated_effort: s.estimated_effort })),
    execution_order: executionOrder,
    next_step: `Call orchestrator_execute_subtask with task_id "${first.task_id}" (${first.specialist_type}: ${first.title}).`,
  };
}

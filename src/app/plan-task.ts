import { createHash } from 'node:crypto';
import { OrchestratorError, unwrap } from '../domain/errors.js';
import { canonicalJson, checkIdempotencyKey, conflictMessage } from '../domain/idempotency.js';
import type { ParentTask } from '../domain/model.js';
import { topologicalOrder, validatePlan, type PlanRequest } from '../domain/plan.js';
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
  /** True when this is the task an earlier call with the same idempotency_key created. */
  replayed?: boolean;
}

/** plan_task: validates the whole plan, then stores it in one durable write. */
export async function planTask(ctx: AppContext, request: PlanRequest & { idempotency_key?: unknown }): Promise<PlanTaskResult> {
  const { idempotency_key: rawKey, ...plan } = request;
  const key = unwrap(checkIdempotencyKey(rawKey));
  const roles = new Set(ctx.roles.roles.keys());
  const now = nowIso(ctx);
  unwrap(validatePlan(plan, roles, 'task_0000000000', now)); // reject bad plans before drawing an id (or storing a key)
  const build = (id: string) => recordPlanned(unwrap(validatePlan(plan, roles, id, now)).parent, { at: now, agent: historyAgent(ctx) });
  if (key !== null) return planOnce(ctx, key, plan, build);
  const parent = await ctx.store.create(build);
  ctx.logger.info(`Planned task ${parent.parent_task_id} with ${parent.subtasks.length} subtasks`, { parent_task_id: parent.parent_task_id });
  return replyFor(parent);
}

/**
 * plan_task with an idempotency key. The key's record is stored first, naming the id the parent is
 * to have; then the parent is created under that id. A retry (from any process) finds the record and
 * returns the parent it names, creating it if a crash came between the two writes. The same key with
 * other arguments is refused.
 */
async function planOnce(ctx: AppContext, key: string, plan: PlanRequest, build: (id: string) => ParentTask): Promise<PlanTaskResult> {
  const keySha256 = sha256(key);
  const argsSha256 = sha256(canonicalJson(plan));
  const proposed = { args_sha256: argsSha256, parent_task_id: await ctx.store.newParentId(), at: nowIso(ctx) };
  const record = await ctx.store.reservePlanKey(keySha256, proposed);
  if (record.args_sha256 !== argsSha256) {
    throw new OrchestratorError('IDEMPOTENCY_CONFLICT', conflictMessage(record.at, `it planned task ${record.parent_task_id}`), { first_call_at: record.at, parent_task_id: record.parent_task_id });
  }
  const { parent, created } = await ctx.store.createWithId({ ...build(record.parent_task_id), plan_key_sha256: keySha256 });
  if (!created && parent.plan_key_sha256 !== keySha256) {
    throw new OrchestratorError('STORAGE_ERROR', `The idempotency key's record names task ${record.parent_task_id}, but that task was created by another call. Nothing was changed. Call again with a new key.`, { parent_task_id: record.parent_task_id });
  }
  if (created) ctx.logger.info(`Planned task ${parent.parent_task_id} with ${parent.subtasks.length} subtasks`, { parent_task_id: parent.parent_task_id, idempotency_key: true });
  return created ? replyFor(parent) : { ...replyFor(parent), replayed: true };
}

/** The reply, from the stored plan alone: a replayed call gets what the first one got. */
function replyFor(parent: ParentTask): PlanTaskResult {
  const executionOrder = topologicalOrder(parent.subtasks);
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

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

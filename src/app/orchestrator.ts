import type { PlanRequest } from '../domain/plan.js';
import { completeSubtask, type CompleteSubtaskRequest } from './complete-subtask.js';
import type { AppContext } from './context.js';
import { executeSubtask, type ExecuteSubtaskRequest } from './execute-subtask.js';
import { getHistory, type GetHistoryRequest } from './get-history.js';
import { getStatus, type GetStatusRequest } from './get-status.js';
import { initializeSession } from './initialize-session.js';
import { maintain, type MaintenanceRequest } from './maintenance.js';
import { planTask } from './plan-task.js';
import { synthesizeResults } from './synthesize-results.js';

/** The use cases behind the MCP tools (and the CLI), bound to one project's context. */
export class Orchestrator {
  constructor(readonly ctx: AppContext) {}

  /**
   * The same use cases on the same store, with `agentId` as the agent of calls that name none: each
   * HTTP session is its own agent for leases and history, while stdio has one per process.
   */
  actingAs(agentId: string): Orchestrator {
    return new Orchestrator({ ...this.ctx, sessionAgentId: agentId });
  }

  initializeSession(request: { cursor?: string } = {}) {
    return initializeSession(this.ctx, request);
  }
  planTask(request: PlanRequest & { idempotency_key?: unknown }) {
    return planTask(this.ctx, request);
  }
  executeSubtask(request: ExecuteSubtaskRequest) {
    return executeSubtask(this.ctx, request);
  }
  completeSubtask(request: CompleteSubtaskRequest) {
    return completeSubtask(this.ctx, request);
  }
  synthesizeResults(request: { parent_task_id: unknown; cursor?: string }) {
    return synthesizeResults(this.ctx, request);
  }
  getStatus(request: GetStatusRequest) {
    return getStatus(this.ctx, request);
  }
  getHistory(request: GetHistoryRequest) {
    return getHistory(this.ctx, request);
  }
  maintain(request: MaintenanceRequest) {
    return maintain(this.ctx, request);
  }
}

import { recordTransition, type EventSource } from '../domain/history.js';
import type { ParentTask } from '../domain/model.js';
import { nowIso, type AppContext } from './context.js';

/** Who history events name as their agent when the call named none: the MCP session (one per stdio server, one per HTTP session). */
export function historyAgent(ctx: AppContext): string {
  return ctx.sessionAgentId;
}

export function eventSource(ctx: AppContext, agent: string = historyAgent(ctx)): EventSource {
  return { at: nowIso(ctx), agent };
}

/**
 * Wraps a store.update change so the transition it makes to `taskId` is recorded in the parent's
 * history, in the same write, as done by `agent` (the call's agent_id, else the session). A change that returns the parent unchanged records nothing.
 */
export function recordingHistory(ctx: AppContext, taskId: string, agent: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): (parent: ParentTask) => Promise<ParentTask> {
  return async (current) => recordTransition(current, await change(current), taskId, eventSource(ctx, agent));
}

import { recordTransition, type EventSource } from '../domain/history.js';
import type { ParentTask } from '../domain/model.js';
import { nowIso, type AppContext } from './context.js';

/**
 * Who history events name as their agent. For now the MCP session: a stdio server serves one session,
 * so its process instance stands for it. The one place to change when agents name themselves.
 */
export function historyAgent(ctx: AppContext): string | null {
  return ctx.owner.instance ? `session-${ctx.owner.instance}` : null;
}

export function eventSource(ctx: AppContext): EventSource {
  return { at: nowIso(ctx), agent: historyAgent(ctx) };
}

/**
 * Wraps a store.update change so the transition it makes to `taskId` is recorded in the parent's
 * history, in the same write. A change that returns the parent unchanged records nothing.
 */
export function recordingHistory(ctx: AppContext, taskId: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): (parent: ParentTask) => Promise<ParentTask> {
  return async (current) => recordTransition(current, await change(current), taskId, eventSource(ctx));
}

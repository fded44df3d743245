import type { ParentTask, Subtask } from './model.js';

/**
 * Minimal lease release for maintenance. The leases work defines Subtask.lease and the full rules
 * (claims, renewals, refusals); this file only knows what maintenance needs: an active subtask whose
 * lease has expired goes back to pending, so another agent can take it.
 */
export interface SubtaskLease {
  agent_id: string;
  /** ISO time. */
  expires_at: string;
}

type Leased = Subtask & { lease?: SubtaskLease | null };

export function leaseOf(subtask: Subtask): SubtaskLease | null {
  return (subtask as Leased).lease ?? null;
}

/** Whether the subtask is active under a lease that expired before `now` (ISO). */
export function hasExpiredLease(subtask: Subtask, now: string): boolean {
  const lease = leaseOf(subtask);
  if (subtask.status !== 'active' || !lease) return false;
  const expires = Date.parse(lease.expires_at);
  return !Number.isNaN(expires) && expires < Date.parse(now);
}

/** Releases the subtask's lease if it expired: back to pending, no lease, no owner. The same parent when there is nothing to do. */
export function releaseExpiredLease(parent: ParentTask, taskId: string, now: string): ParentTask {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  if (!subtask || !hasExpiredLease(subtask, now)) return parent;
  return releaseSubtask(parent, taskId, now);
}

/**
 * Puts an active subtask back to pending (its work was interrupted: an expired lease, or a server that
 * is gone). Nothing recorded is lost: an active subtask holds no results, and its notes stay.
 */
export function releaseSubtask(parent: ParentTask, taskId: string, now: string): ParentTask {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  if (!subtask || subtask.status !== 'active') return parent;
  const released = { ...subtask, status: 'pending' as const, active_owner: null, lease: null, updated_at: now };
  return { ...parent, subtasks: parent.subtasks.map((s) => (s.task_id === taskId ? released : s)), updated_at: now };
}

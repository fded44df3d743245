import type { ActiveOwner, Lease, LostLease, LostResults, ParentTask, Subtask } from './model.js';
import { hasControlChars } from './control-chars.js';
import { fail, ok, type Check } from './errors.js';
import { truncate } from './ids.js';

/**
 * Subtask leases: execute_subtask gives an active subtask to one agent until `expires_at`; meanwhile
 * other agents are refused (SUBTASK_CLAIMED). A lease ends at its expiry or with the server process
 * that granted it (its `active_owner`): then the subtask counts as interrupted and anyone may take it
 * over, and the old holder's late completion is refused (LEASE_LOST) with its results kept. Pure: the
 * time and the liveness of processes are passed in.
 */

export const AGENT_ID_MAX = 100;
/** Agents remembered per subtask as having lost a lease: a subtask taken over more often is pathological. */
export const LOST_LEASES_KEPT = 20;


/** The agent id a call named: null when it named none (the session is the agent then). */
export function checkAgentId(raw: unknown): Check<string | null> {
  if (raw === undefined || raw === null) return ok(null);
  if (typeof raw !== 'string') return fail('INVALID_INPUT', `agent_id must be text, got ${typeof raw}. Pass a short name for the agent (e.g. "reviewer-2"), or leave it out to use this session.`);
  const id = raw.trim();
  if (!id) return ok(null);
  if (id.length > AGENT_ID_MAX) return fail('INVALID_INPUT', `agent_id is ${id.length} characters long; at most ${AGENT_ID_MAX} are accepted. Use a short name for the agent.`);
  if (hasControlChars(id)) return fail('INVALID_INPUT', 'agent_id contains control characters (newline, escape, bidirectional marks). Use a plain short name for the agent.');
  return ok(id);
}

/** The agent of a call that names none on stdio: the MCP session, one per server process (each HTTP session has its own: src/mcp/http/sessions.ts). */
export function sessionAgentId(instance: string): string {
  return `session-${instance}`;
}

const timeOf = (now: Date | string) => (typeof now === 'string' ? Date.parse(now) : now.getTime());
const isoOf = (now: Date | string) => (typeof now === 'string' ? now : now.toISOString());

/** An unreadable expiry counts as expired: a damaged lease never locks a subtask for good. */
export function leaseExpired(lease: Lease, now: Date | string): boolean {
  return !(Date.parse(lease.expires_at) > timeOf(now));
}

/**
 * The lease that keeps other agents off this subtask, or null: the subtask is active, leased, the lease
 * unexpired and the process that granted it still running. Otherwise the subtask is free to take over.
 */
export function bindingLease(subtask: Pick<Subtask, 'status' | 'lease' | 'active_owner'>, now: Date | string, isOwnerAlive: (owner: ActiveOwner) => boolean): Lease | null {
  const lease = subtask.lease;
  if (subtask.status !== 'active' || !lease || leaseExpired(lease, now)) return null;
  if (!subtask.active_owner || !isOwnerAlive(subtask.active_owner)) return null;
  return lease;
}

export interface LeaseRequest {
  agentId: string;
  now: Date | string;
  isOwnerAlive: (owner: ActiveOwner) => boolean;
}

/** execute_subtask: refused while another agent's lease binds the subtask; true when the caller holds it already (a renewal). */
export function checkClaim(parent: ParentTask, taskId: string, request: LeaseRequest): Check<{ renewal: boolean }> {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  if (!subtask) return ok({ renewal: false });
  const binding = bindingLease(subtask, request.now, request.isOwnerAlive);
  if (binding && binding.agent_id !== request.agentId) return claimed(subtask, binding, request.now, 'execute');
  return ok({ renewal: subtask.status === 'active' && subtask.lease?.agent_id === request.agentId });
}

/**
 * Gives an active subtask to the agent until `expiresAt`. A previous holder's lease (expired, or its
 * process gone) is recorded as lost, so that its late completion is refused with LEASE_LOST.
 */
export interface Grant {
  agentId: string;
  expiresAt: string;
  /** The server process granting it: the lease ends with it. */
  owner: ActiveOwner;
  /** The lease the subtask had before, if it was active. */
  previous: Lease | null | undefined;
  now: Date | string;
}

export function grantLease(parent: ParentTask, taskId: string, grant: Grant): ParentTask {
  const { agentId, previous, now } = grant;
  return withSubtask(parent, taskId, (s) => {
    const displaced = previous && previous.agent_id !== agentId ? [lostLease(previous, now)] : [];
    return { ...s, active_owner: grant.owner, lease: { agent_id: agentId, expires_at: grant.expiresAt }, lost_leases: keepLost(s.lost_leases, agentId, displaced) };
  });
}

export type CompletionVerdict = { kind: 'allowed' } | { kind: 'lost'; lost: LostLease; holder: Lease | null };

/**
 * complete_subtask by an agent: refused (SUBTASK_CLAIMED) while another agent's lease binds the subtask,
 * unless this agent held it before and lost it: then LEASE_LOST (returned as a verdict, since its
 * results are kept rather than thrown away). Otherwise allowed.
 */
export function checkCompletion(parent: ParentTask, taskId: string, request: LeaseRequest): Check<CompletionVerdict> {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  if (!subtask || subtask.lease?.agent_id === request.agentId) return ok({ kind: 'allowed' });
  const lost = subtask.lost_leases?.filter((l) => l.agent_id === request.agentId).at(-1);
  const binding = bindingLease(subtask, request.now, request.isOwnerAlive);
  if (lost) return ok({ kind: 'lost', lost, holder: binding });
  if (binding) return claimed(subtask, binding, request.now, 'complete');
  return ok({ kind: 'allowed' });
}

/** After a completion is applied: the lease ends; another agent's lease it went past is recorded as lost. */
export function endLease(before: ParentTask, after: ParentTask, taskId: string, agentId: string, now: Date | string): ParentTask {
  if (after === before) return after;
  const previous = before.subtasks.find((s) => s.task_id === taskId)?.lease;
  return withSubtask(after, taskId, (s) => {
    const displaced = previous && previous.agent_id !== agentId ? [lostLease(previous, now)] : [];
    return { ...s, lease: null, lost_leases: keepLost(s.lost_leases, agentId, displaced) };
  });
}

/** Keeps a lost holder's results on the subtask; the same results sent again (a retry) are kept once. */
export function keepLostResults(parent: ParentTask, taskId: string, note: LostResults): ParentTask {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  const last = subtask?.lost_results?.filter((r) => r.agent_id === note.agent_id).at(-1);
  if (!subtask || (last && last.results === note.results && last.next_action === note.next_action)) return parent;
  return withSubtask(parent, taskId, (s) => ({ ...s, lost_results: [...(s.lost_results ?? []), note] }));
}

/**
 * Releases the expired lease of an active subtask: back to pending, no lease, no owner; the holder is
 * recorded as having lost it. The same parent (nothing to do) when the subtask is not active, has no
 * lease, or its lease has not expired.
 */
export function releaseExpiredLease(parent: ParentTask, taskId: string, now: Date | string): ParentTask {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  const lease = subtask?.lease;
  if (!subtask || subtask.status !== 'active' || !lease || !leaseExpired(lease, now)) return parent;
  const at = isoOf(now);
  const released = withSubtask(parent, taskId, (s) => ({ ...s, status: 'pending', lease: null, active_owner: null, lost_leases: keepLost(s.lost_leases, '', [lostLease(lease, now)]), updated_at: at }));
  return { ...released, updated_at: at };
}

export function leaseClaimedMessage(taskId: string, title: string, lease: Lease, now: Date | string, action: 'execute' | 'complete'): string {
  const seconds = Math.max(0, Math.ceil((Date.parse(lease.expires_at) - timeOf(now)) / 1000));
  const what = action === 'execute' ? 'Work on another subtask (orchestrator_get_status lists them)' : 'Only that agent can record its results';
  return `Subtask ${taskId} ("${truncate(title, 60)}") is being worked on by agent "${lease.agent_id}" under a lease until ${lease.expires_at} (${seconds} s from now). ${what}, or call again after the lease expires; nothing was changed.`;
}

function claimed(subtask: Subtask, lease: Lease, now: Date | string, action: 'execute' | 'complete'): Check<never> {
  return fail('SUBTASK_CLAIMED', leaseClaimedMessage(subtask.task_id, subtask.title, lease, now, action), { task_id: subtask.task_id, holder: lease.agent_id, expires_at: lease.expires_at });
}

function lostLease(lease: Lease, now: Date | string): LostLease {
  return { agent_id: lease.agent_id, expires_at: lease.expires_at, lost_at: isoOf(now) };
}

/** The lost leases, minus the agent now acting (it holds or finished the subtask), plus those displaced; the newest kept. */
function keepLost(lost: readonly LostLease[] | undefined, actingAgent: string, displaced: LostLease[]): LostLease[] {
  return [...(lost ?? []).filter((l) => l.agent_id !== actingAgent), ...displaced].slice(-LOST_LEASES_KEPT);
}

function withSubtask(parent: ParentTask, taskId: string, change: (s: Subtask) => Subtask): ParentTask {
  return { ...parent, subtasks: parent.subtasks.map((s) => (s.task_id === taskId ? change(s) : s)) };
}

/**
 * Puts an active subtask back to pending (its work was interrupted: a server that is gone, for a subtask
 * without a lease). Nothing recorded is lost: an active subtask holds no results, and its notes stay.
 */
export function releaseSubtask(parent: ParentTask, taskId: string, now: string): ParentTask {
  const subtask = parent.subtasks.find((s) => s.task_id === taskId);
  if (!subtask || subtask.status !== 'active') return parent;
  const released = withSubtask(parent, taskId, (s) => ({ ...s, status: 'pending', active_owner: null, lease: null, updated_at: now }));
  return { ...released, updated_at: now };
}

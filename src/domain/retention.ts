/**
 * The retention policy for archived parents (README, "Your data"): a maximum age and/or a maximum
 * count, both off by default. Which parents to prune is decided here, from summaries, with no I/O; the
 * caller backs them up first and then removes them.
 *
 * A parent's time is when it completed (completed_at), else its last change (updated_at). Only archived,
 * completed parents are ever chosen. A parent whose time cannot be read is never pruned, by either rule,
 * and does not count towards maxCount: unknown age is no reason to delete anything.
 */

export interface RetentionPolicy {
  /** Prune archived parents completed more than this many days ago; null: no age limit. */
  maxAgeDays: number | null;
  /** Keep at most this many archived parents, the most recently completed; null: no count limit. */
  maxCount: number | null;
}

export const RETENTION_OFF: RetentionPolicy = Object.freeze({ maxAgeDays: null, maxCount: null });

/** What retention needs of a parent: ParentSummary (app/ports.ts) fits, with completed_at where known. */
export interface RetentionCandidate {
  parent_task_id: string;
  location: 'active' | 'archive';
  status?: 'active' | 'completed';
  completed_at?: string | null;
  updated_at: string;
}

export interface PruneChoice {
  parent_task_id: string;
  /** The time the policy judged it by (completed_at, else updated_at). */
  at: string;
  /** Which rule chose it: too old, beyond the count, or both. */
  reasons: ('age' | 'count')[];
}

const DAY_MS = 86_400_000;

export function isRetentionOn(policy: RetentionPolicy): boolean {
  return policy.maxAgeDays !== null || policy.maxCount !== null;
}

/** The parents the policy prunes, oldest first (ties by id). Never an active parent; nothing when the policy is off. */
export function chooseParentsToPrune(parents: readonly RetentionCandidate[], policy: RetentionPolicy, now: Date): PruneChoice[] {
  if (!isRetentionOn(policy)) return [];
  const oldestFirst = parents
    .filter((p) => p.location === 'archive' && (p.status === undefined || p.status === 'completed'))
    .map((p) => ({ id: p.parent_task_id, at: p.completed_at || p.updated_at }))
    .map((p) => ({ ...p, time: Date.parse(p.at) }))
    .filter((p) => Number.isFinite(p.time))
    .sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const cutoff = policy.maxAgeDays === null ? null : now.getTime() - policy.maxAgeDays * DAY_MS;
  const beyondCount = policy.maxCount === null ? 0 : Math.max(0, oldestFirst.length - policy.maxCount);
  const chosen: PruneChoice[] = [];
  for (const [i, p] of oldestFirst.entries()) {
    const reasons: PruneChoice['reasons'] = [];
    if (cutoff !== null && p.time < cutoff) reasons.push('age');
    if (i < beyondCount) reasons.push('count');
    if (reasons.length) chosen.push({ parent_task_id: p.id, at: p.at, reasons });
  }
  return chosen;
}

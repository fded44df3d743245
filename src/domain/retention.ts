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
  const dated = parents
    .filter((p) => p.location === 'archive' && (p.status === undefined || p.status === 'completed'))
    .map((p) => ({ id: p.parent_task_id, at: p.completed_at || p.updated_at }))
    .map((p) => ({ ...p, time: Date.parse(p.at) }))
    .filter((p) => Number.isFinite(p.time))
    .sort((a, b) => b.time - a.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); // newest first
  const chosen = new Map<string, PruneChoice>();
  const choose = (p: { id: string; at: string }, reason: 'age' | 'count') => {
    const existing = chosen.get(p.id);
    if (existing) existing.reasons.push(reason);
    else chosen.set(p.id, { parent_task_id: p.id, at: p.at, reasons: [reason] });
  };
  if (policy.maxAgeDays !== null) {
    const cutoff = now.getTime() - policy.maxAgeDays * DAY_MS;
    for (const p of dated) if (p.time < cutoff) choose(p, 'age');
  }
  if (policy.maxCount !== null) for (const p of dated.slice(policy.maxCount)) choose(p, 'count');
  const order = new Map(dated.map((p, i) => [p.id, i]));
  return [...chosen.values()].sort((a, b) => order.get(b.parent_task_id)! - order.get(a.parent_task_id)!);
}

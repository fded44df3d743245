import type { ParentSummary } from '../app/ports.js';
import { truncate } from '../domain/ids.js';
import { isParentComplete } from '../domain/lifecycle.js';
import { MARK_FIELD } from '../safety/parent-codec.js';
import { SUBTASK_STATUSES, type ParentTask, type SubtaskStatus } from '../domain/model.js';

/**
 * Parent summaries as both stores keep them for listings: how one is made from a parent, and the order
 * of listings (most recently updated first), kept by binary insertion so a write at 10,000 parents
 * does not sort them all again.
 */
type Location = ParentSummary['location'];

export function mergeByRecent(a: readonly ParentSummary[], b: readonly ParentSummary[]): ParentSummary[] {
  const merged: ParentSummary[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) merged.push(byRecentFirst(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  return merged.concat(a.slice(i), b.slice(j));
}

/** Where `summary` is, or would go, in a list ordered by byRecentFirst: after every summary that comes before it. */
function positionByRecent(list: readonly ParentSummary[], summary: ParentSummary): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (byRecentFirst(list[middle]!, summary) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function insertByRecent(list: ParentSummary[], summary: ParentSummary): void {
  list.splice(positionByRecent(list, summary), 0, summary);
}

/** Removes a summary by binary search too: a write at 10,000 active parents must not scan them all. */
export function removeByRecent(list: ParentSummary[], summary: ParentSummary): void {
  const guess = positionByRecent(list, summary);
  const position = list[guess] === summary ? guess : list.indexOf(summary);
  if (position >= 0) list.splice(position, 1);
}

export function byRecentFirst(a: ParentSummary, b: ParentSummary): number {
  if (a.updated_at !== b.updated_at) return a.updated_at < b.updated_at ? 1 : -1;
  return a.parent_task_id < b.parent_task_id ? -1 : 1;
}

/**
 * The status literal itself rather than the copy JSON.parse made: queries count subtasks with
 * counts[status]++, which is several times faster with the one internalized string.
 */
export function canonical(status: SubtaskStatus): SubtaskStatus {
  return SUBTASK_STATUSES.find((known) => known === status) ?? status;
}

/** Role names repeat across thousands of subtasks: one copy of each. */
const roleNames = new Map<string, string>();
export function intern(role: string): string {
  let known = roleNames.get(role);
  if (known === undefined && roleNames.size < 1000) roleNames.set(role, (known = role));
  return known ?? role;
}

export function summarize(parent: ParentTask, location: Location): ParentSummary {
  const keyId = encryptionKeyIdOf(parent);
  return {
    parent_task_id: parent.parent_task_id,
    title: parent.title ?? truncate(parent.description, 100),
    // An envelope cannot be cut: an encrypted parent's summary keeps the whole one, cut once opened.
    description: location === 'archive' ? '' : keyId === undefined ? truncate(parent.description, 120) : parent.description,
    location,
    status: isParentComplete(parent) ? 'completed' : 'active',
    created_at: parent.created_at,
    updated_at: parent.updated_at ?? parent.created_at,
    subtasks: parent.subtasks.map((s) => ({ task_id: s.task_id, title: s.title, status: canonical(s.status), specialist_type: intern(s.specialist_type), active_owner: s.active_owner ?? null, lease: s.status === 'active' ? (s.lease ?? null) : null })),
    ...(keyId === undefined ? {} : { encryption_key_id: keyId }),
  };
}

/**
 * The key id an encrypted parent's mark names (parent-codec.ts); "" for a mark without a usable one (the
 * summary is still marked encrypted, and opening it reports the corruption); undefined for a clear parent.
 */
function encryptionKeyIdOf(parent: ParentTask): string | undefined {
  const mark = (parent as ParentTask & { [MARK_FIELD]?: unknown })[MARK_FIELD];
  if (mark === undefined) return undefined;
  const keyId = typeof mark === 'object' && mark !== null ? (mark as { key_id?: unknown }).key_id : undefined;
  return typeof keyId === 'string' ? keyId : '';
}

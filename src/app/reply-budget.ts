/**
 * Bounds on what one reply carries. Stored texts are bounded (domain/limits.ts), but a listing of many
 * of them is not: a page of 500 status rows, 20 tasks with 200 subtasks each, or the results of every
 * subtask would reach hundreds of kilobytes, slow for a model to read and, at the extreme, over the
 * 10 MiB clients accept. So listings are cut by size as well as count, and say how to get the rest.
 */

/** Characters of JSON one listing in a reply may take (its text rendering takes about as much again). */
export const LISTING_BUDGET_CHARS = 60_000;

/** At most this many storage problems are listed in a reply; the count says how many there are. */
export const PROBLEMS_LISTED = 20;

/**
 * How many of `items`, from the front, fit in `budget` characters of JSON. Always at least one (when
 * there is one), so that a page always moves on, whatever the size of a single item.
 */
export function countThatFits<T>(items: readonly T[], budget: number = LISTING_BUDGET_CHARS, sizeOf: (item: T) => number = jsonSize): number {
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    used += sizeOf(items[i]!);
    if (used > budget && i > 0) return i;
  }
  return items.length;
}

export function jsonSize(value: unknown): number {
  return JSON.stringify(value)?.length ?? 0;
}

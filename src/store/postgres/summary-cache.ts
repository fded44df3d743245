import type { ParentSummary, StoreProblem, StoreStatistics } from '../../app/ports.js';
import { statusCounts } from '../../domain/lifecycle.js';
import { SUBTASK_STATUSES, type ParentTask, type StatusCounts } from '../../domain/model.js';
import { byRecentFirst, canonical, insertByRecent, intern, mergeByRecent, removeByRecent, summarize } from '../summaries.js';
import type { Sql } from './database.js';
import { SCHEMA } from './schema.js';

type Location = ParentSummary['location'];

/**
 * A line of a refresh: a parent's row (`intact` false when its body no longer is what a server wrote: an
 * edit by hand), a removal (parent_task_id null: everything was removed), or the closing line with
 * where the snapshot stood.
 */
interface RefreshLine {
  kind: 'row' | 'removed' | 'end';
  parent_task_id: string | null;
  location: Location | null;
  summary: ParentSummary | null;
  intact: boolean | null;
  /** On the closing line: the snapshot's xmax and the transactions it saw in progress (see SnapshotMark). */
  xmax: string | null;
  xip: string[] | null;
}

/**
 * Where a refresh's snapshot stood: a transaction that commits later either had not started (its id is
 * at or after xmax) or was running (one of xip). Every other id below xmax had ended and was seen.
 */
interface SnapshotMark {
  xmax: string;
  xip: string[];
}

/** Checks a row whose body changed outside the store: its parent, or why it cannot be used. */
export type RowChecker = (sql: Sql, parentTaskId: string) => Promise<{ parent: ParentTask; location: Location } | { problem: StoreProblem } | null>;

/**
 * The listings of every server, in memory, following the database: a query costs one round trip that
 * returns only the rows written since the last one. Each row records the transaction that wrote it
 * (changed_xid, set by a trigger, so edits by hand count too); a refresh asks for the rows of
 * transactions the previous refresh's snapshot did not see: those that started after it (at or after its
 * xmax) and those it saw running (its xip), which covers every commit since, in whatever order they
 * landed, and stays a handful of rows even while some transaction in the cluster stays open for hours
 * (asking from the snapshot's xmin would read again every row written since that transaction began).
 * Removals are recorded the same way (parent_removals, by trigger). Rows of every location are read, so
 * that a parent another server archived leaves the active listing; archived parents are kept only once
 * the archive was read in full, on first need, as the file store does.
 */
export class SummaryCache {
  /** Every row of a loaded location; null for a row that cannot be used (reported in problems). */
  private readonly rows: Record<Location, Map<string, ParentSummary | null>> = { active: new Map(), archive: new Map() };
  private readonly ordered: Record<Location, ParentSummary[] | null> = { active: null, archive: null };
  private readonly totals: Record<Location, { counts: StatusCounts; withActive: Set<ParentSummary> }> = {
    active: { counts: statusCounts([]), withActive: new Set() },
    archive: { counts: statusCounts([]), withActive: new Set() },
  };
  /** Rows with a summary, per location. */
  private readonly usable: Record<Location, number> = { active: 0, archive: 0 };
  private readonly problemsById = new Map<string, StoreProblem>();
  private archiveLoaded = false;
  /** Where the last refresh's snapshot stood; null before the first load. */
  private seen: SnapshotMark | null = null;
  private running: Promise<void> | null = null;
  /** The refresh that starts when the running one ends, shared by every caller that arrived meanwhile. */
  private queued: { done: Promise<void>; includeArchived: boolean } | null = null;

  constructor(private readonly checkRow: RowChecker) {}

  /**
   * Brings the listings up to date, one refresh at a time. A caller arriving during one cannot use it (it
   * may have begun before a write the caller was told of), so it waits for the next, which every caller
   * arriving meanwhile shares: a burst of listings costs two refreshes, not one each. `read` runs the
   * work on a connection (and again on a fresh one if the connection was dead: every step can be repeated).
   */
  refresh(read: (work: (sql: Sql) => Promise<void>) => Promise<void>, includeArchived: boolean): Promise<void> {
    if (this.queued) {
      this.queued.includeArchived ||= includeArchived;
      return this.queued.done;
    }
    if (!this.running) return this.start(read, includeArchived);
    const queued = { includeArchived, done: Promise.resolve() };
    queued.done = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.start(read, queued.includeArchived);
      });
    this.queued = queued;
    return queued.done;
  }

  private start(read: (work: (sql: Sql) => Promise<void>) => Promise<void>, includeArchived: boolean): Promise<void> {
    const run = read(async (sql) => {
      if (this.seen === null) await this.load(sql, 'active');
      if (includeArchived && !this.archiveLoaded) await this.loadArchive(sql);
      await this.catchUp(sql);
    }).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  list(includeArchived: boolean): ParentSummary[] {
    const active = (this.ordered.active ??= this.valid('active').sort(byRecentFirst));
    if (!includeArchived) return active;
    const archive = (this.ordered.archive ??= this.valid('archive').sort(byRecentFirst));
    return mergeByRecent(active, archive);
  }

  statistics(includeArchived: boolean): StoreStatistics {
    const counts = statusCounts([]);
    const withActive: ParentSummary[] = [];
    for (const location of includeArchived ? (['active', 'archive'] as const) : (['active'] as const)) {
      for (const status of SUBTASK_STATUSES) counts[status] += this.totals[location].counts[status];
      withActive.push(...this.totals[location].withActive);
    }
    return { counts, parents: { active: this.usable.active, archived: this.usable.archive }, withActiveSubtasks: withActive.sort(byRecentFirst) };
  }

  problems(): StoreProblem[] {
    return [...this.problemsById.values()];
  }

  /** A problem found by reading the row directly (read() or update()): reported until the row is written anew. */
  noteProblem(parentTaskId: string, problem: StoreProblem): void {
    this.problemsById.set(parentTaskId, problem);
  }

  /** A parent this process just committed: listed at once, without waiting for the next refresh. */
  noteWritten(parent: ParentTask, location: Location): void {
    this.put(parent.parent_task_id, location, summarize(parent, location));
  }

  private valid(location: Location): ParentSummary[] {
    const list: ParentSummary[] = [];
    for (const summary of this.rows[location].values()) if (summary) list.push(summary);
    return list;
  }

  /** Reads every row of a location (a first load, or after the table was emptied). */
  private async load(sql: Sql, location: Location): Promise<void> {
    const { rows } = await sql.query<RefreshLine>(
      `SELECT 'row' AS kind, parent_task_id, location, summary, body_sha256 = sha256(convert_to(body, 'UTF8')) AS intact, NULL AS xmax, NULL::text[] AS xip
         FROM ${SCHEMA}.parents WHERE location = $1
       UNION ALL SELECT 'end', NULL, NULL, NULL, NULL, pg_snapshot_xmax(s)::text, ARRAY(SELECT pg_snapshot_xip(s)::text) FROM pg_current_snapshot() AS s`,
      [location],
    );
    this.ordered[location] = null; // sorted once when next listed, rather than row by row
    for (const id of [...this.rows[location].keys()]) this.remove(id);
    await this.apply(sql, rows);
    // The active listing's mark is kept when the archive is loaded later: an older mark only means more rows read again.
    if (location === 'active') this.seen = markOf(rows);
  }

  private async loadArchive(sql: Sql): Promise<void> {
    this.archiveLoaded = true; // before: put() keeps archived rows only once the archive is loaded
    try {
      await this.load(sql, 'archive');
    } catch (error) {
      this.archiveLoaded = false;
      throw error;
    }
  }

  /** Applies the rows written and removed since the last refresh. */
  private async catchUp(sql: Sql): Promise<void> {
    const { rows } = await sql.query<RefreshLine>(
      `SELECT 'row' AS kind, parent_task_id, location, summary, body_sha256 = sha256(convert_to(body, 'UTF8')) AS intact, NULL AS xmax, NULL::text[] AS xip
         FROM ${SCHEMA}.parents WHERE changed_xid >= $1::xid8 OR changed_xid = ANY($2::xid8[])
       UNION ALL SELECT 'removed', parent_task_id, NULL, NULL, NULL, NULL, NULL FROM ${SCHEMA}.parent_removals WHERE removed_xid >= $1::xid8 OR removed_xid = ANY($2::xid8[])
       UNION ALL SELECT 'end', NULL, NULL, NULL, NULL, pg_snapshot_xmax(s)::text, ARRAY(SELECT pg_snapshot_xip(s)::text) FROM pg_current_snapshot() AS s`,
      [this.seen!.xmax, this.seen!.xip],
    );
    if (rows.some((line) => line.kind === 'removed' && line.parent_task_id === null)) {
      await this.load(sql, 'active'); // the table was emptied (TRUNCATE): read it again
      if (this.archiveLoaded) await this.load(sql, 'archive');
      return;
    }
    await this.apply(sql, rows);
    this.seen = markOf(rows);
  }

  private async apply(sql: Sql, lines: RefreshLine[]): Promise<void> {
    // Removals first: a parent removed and created again under its id since the last refresh is listed.
    for (const line of lines) if (line.kind === 'removed') this.remove(line.parent_task_id!);
    for (const row of lines) {
      if (row.kind !== 'row') continue;
      const id = row.parent_task_id!;
      if (row.intact) {
        this.problemsById.delete(id);
        this.put(id, row.location!, canonicalSummary(row.summary!));
        continue;
      }
      // Edited by hand: the summary column may not say what the body says, so the body decides.
      const checked = await this.checkRow(sql, id);
      if (checked === null) this.remove(id);
      else if ('problem' in checked) {
        this.problemsById.set(id, checked.problem);
        this.put(id, row.location!, null);
      } else {
        this.problemsById.delete(id);
        this.put(id, checked.location, summarize(checked.parent, checked.location));
      }
    }
  }

  private put(id: string, location: Location, summary: ParentSummary | null): void {
    this.remove(id);
    // A row another server archived leaves the active listing here; the archive keeps it once read in full.
    if (location === 'archive' && !this.archiveLoaded) return;
    this.rows[location].set(id, summary);
    if (!summary) return;
    this.usable[location]++;
    const ordered = this.ordered[location];
    if (ordered) insertByRecent(ordered, summary);
    this.count(location, summary, 1);
  }

  private remove(id: string): void {
    for (const location of ['active', 'archive'] as const) {
      const summary = this.rows[location].get(id);
      if (summary === undefined) continue;
      this.rows[location].delete(id);
      if (!summary) continue;
      this.usable[location]--;
      const ordered = this.ordered[location];
      if (ordered) removeByRecent(ordered, summary);
      this.count(location, summary, -1);
    }
  }

  private count(location: Location, summary: ParentSummary, sign: 1 | -1): void {
    const totals = this.totals[location];
    let active = false;
    for (const s of summary.subtasks) {
      totals.counts[s.status] += sign;
      if (s.status === 'active') active = true;
    }
    if (!active) return;
    if (sign > 0) totals.withActive.add(summary);
    else totals.withActive.delete(summary);
  }
}

/** Where the snapshot stood, from the line that ends every refresh query. */
function markOf(lines: RefreshLine[]): SnapshotMark {
  const end = lines.find((line) => line.kind === 'end')!;
  return { xmax: end.xmax!, xip: end.xip! };
}

/** A summary as JSON gave it, with the status and role strings shared (listings count them by the thousand). */
function canonicalSummary(summary: ParentSummary): ParentSummary {
  for (const s of summary.subtasks) {
    s.status = canonical(s.status);
    s.specialist_type = intern(s.specialist_type);
  }
  return summary;
}

import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, ParentSummary, StoreProblem, StoreStatistics } from '../app/ports.js';
import { isParentComplete, statusCounts } from '../domain/lifecycle.js';
import { SUBTASK_STATUSES, type ActiveOwner, type ParentTask, type StatusCounts, type SubtaskStatus } from '../domain/model.js';
import { isValidTaskId, truncate } from '../domain/ids.js';
import { parseTaskFile } from '../domain/task-file.js';
import { isCode, tempPathFor } from './durable-fs.js';
import { relativeToRoot, type Layout } from './layout.js';

type Location = ParentSummary['location'];

interface Entry {
  summary: ParentSummary;
  /** ino:size:mtime of the file the summary was read from; a rescan re-reads only files whose key changed. */
  statKey: string;
}

/**
 * The in-memory index behind status and listing queries, so they never re-read every file.
 * The JSON files stay the truth: the index follows them through tasks/journal.log, to which every
 * writer (any process) appends the id of each parent it wrote. A query costs one stat of the journal
 * when nothing changed, and re-reads only the parents named since. A journal that was replaced
 * (rotation) or a periodic timer triggers a rescan that compares stat keys, which also catches edits
 * made by hand. Archived parents are indexed on first need only, to keep start-up fast.
 *
 * Start-up with thousands of tasks would mean reading every file before the first answer, so the
 * index of active parents is also cached in tasks/index-cache.json with the journal position it
 * reflects. A start restores it, replays the journal from there and picks up files added or removed
 * by name; then it checks every file's stat key, which catches files edited in place while no server
 * ran, and reads only those. A server does that check in the background, so its first answer need not
 * wait for it (it opens the project while the client is still shaking hands, so it is done by then).
 * The cache is only a cache: unreadable or from another format, it is ignored and the folder scanned.
 */
export class Catalog {
  private readonly entries: Record<Location, Map<string, Entry>> = { active: new Map(), archive: new Map() };
  private archiveLoaded = false;
  /**
   * Parents of subtask ids that do not name their parent (Python-era ids such as "architect_1a2b3c").
   * Ids this server gives, "<parent>.<n>", name it, and are not indexed: that saves most of the memory.
   */
  private readonly foreignSubtaskParents = new Map<string, Set<string>>();
  private readonly problemsByFile = new Map<string, StoreProblem & { statKey: string }>();
  private journal = { ino: -1, offset: 0 };
  private rescanTimer: NodeJS.Timeout | null = null;
  private pendingVerify: NodeJS.Timeout | null = null;
  private rescanning: Promise<void> | null = null;
  /** Bumped on every change of the index; tells whether the cache file is behind. */
  private generation = 0;
  /**
   * The indexed summaries of each folder, most recently updated first: sorted once, then kept in order as parents
   * change (a write moves one parent to the front), so a query never sorts ten thousand parents.
   */
  private readonly recent: Record<Location, ParentSummary[] | null> = { active: null, archive: null };
  /** Subtask counts per status and the parents with subtasks marked active, kept as parents change. */
  private readonly totals: Record<Location, { counts: StatusCounts; withActive: Set<ParentSummary> }> = {
    active: { counts: statusCounts([]), withActive: new Set() },
    archive: { counts: statusCounts([]), withActive: new Set() },
  };
  private savedGeneration = -1;

  constructor(
    private readonly layout: Layout,
    private readonly logger: Logger,
    private readonly rescanIntervalMs: number,
  ) {}

  async load(options: { verifyInBackground?: boolean } = {}): Promise<void> {
    if (this.restoreCache()) {
      await this.refresh();
      this.reconcileNames();
      // In the background, it starts a moment later, so that it does not compete with the first answer.
      if (options.verifyInBackground) this.pendingVerify = setTimeout(() => void this.verify(), BACKGROUND_VERIFY_DELAY_MS).unref();
      else await this.verify();
    } else {
      this.journal = await this.journalEnd();
      await this.scan('active');
      this.saveCache();
    }
    this.rescanTimer = setInterval(() => void this.verify(), this.rescanIntervalMs);
    this.rescanTimer.unref();
  }

  close(): void {
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.pendingVerify) clearTimeout(this.pendingVerify);
    this.rescanTimer = this.pendingVerify = null;
    this.saveCache();
  }

  /** The periodic check: rescan the folders, then refresh the cache if anything changed. */
  private async verify(): Promise<void> {
    try {
      await this.rescan();
      this.saveCache();
    } catch (error) {
      this.logger.warn(`Rescan of the task folders failed: ${(error as Error).message}`);
    }
  }

  /** Files created or removed outside the journal since the cache was written (by hand, say). */
  private reconcileNames(): void {
    const names = listTaskFiles(this.layout.activeDir);
    const present = new Set(names.map((n) => n.slice(0, -5)));
    for (const id of [...this.entries.active.keys()]) if (!present.has(id)) this.remove(id, 'active');
    for (const name of names) {
      const id = name.slice(0, -5);
      if (!this.entries.active.has(id) && !this.problemsByFile.has(path.join(this.layout.activeDir, name))) this.readInto('active', name);
    }
  }

  private restoreCache(): boolean {
    let cache: IndexCache;
    try {
      cache = JSON.parse(readFileSync(this.layout.indexCacheFile, 'utf8')) as IndexCache;
    } catch {
      return false; // none yet, or torn by a crash: scan instead
    }
    if (cache.format !== INDEX_CACHE_FORMAT || !Array.isArray(cache.active) || !Array.isArray(cache.problems)) return false;
    for (const row of cache.active) {
      const entry = Array.isArray(row) ? decodeEntry(row) : null;
      if (entry) this.put('active', entry);
    }
    for (const problem of cache.problems) this.problemsByFile.set(path.join(this.layout.root, problem.file), problem);
    this.journal = cache.journal;
    this.savedGeneration = this.generation; // what is in memory is what the cache holds
    return true;
  }

  /** Writes the cache (temp file and rename: a crash leaves the old cache or the new one, both usable). */
  private saveCache(): void {
    if (this.savedGeneration === this.generation) return;
    const cache: IndexCache = {
      format: INDEX_CACHE_FORMAT,
      journal: this.journal,
      active: [...this.entries.active.values()].map(encodeEntry),
      problems: [...this.problemsByFile.values()].filter((p) => path.dirname(path.join(this.layout.root, p.file)) === this.layout.activeDir),
    };
    const temp = tempPathFor(this.layout.indexCacheFile);
    try {
      writeFileSync(temp, JSON.stringify(cache));
      renameSync(temp, this.layout.indexCacheFile);
      this.savedGeneration = this.generation;
    } catch (error) {
      rmSync(temp, { force: true });
      this.logger.debug(`Could not write the index cache: ${(error as Error).message}`);
    }
  }

  /** Brings the index up to date with what any process wrote since the last look. */
  async refresh(): Promise<void> {
    const info = await stat(this.layout.journalFile).catch(() => null);
    if (!info) {
      if (this.journal.ino !== -1) return this.rescan();
      return;
    }
    if (info.ino !== this.journal.ino || info.size < this.journal.offset) return this.rescan();
    if (info.size === this.journal.offset) return;
    const ids = await this.readJournal(this.journal.offset, info.size);
    for (const id of ids) this.reload(id);
  }

  /**
   * After this process appended `bytes` to the journal: if nothing else was appended meanwhile, skip
   * past its own line, so its next query does not re-read what it has just written.
   */
  acknowledgeOwnAppend(journal: { ino: number; size: number }, bytes: number): void {
    const expected = journal.ino === this.journal.ino ? this.journal.offset + bytes : bytes;
    if (journal.size === expected) this.journal = { ino: journal.ino, offset: journal.size };
  }

  async ensureArchive(): Promise<void> {
    if (this.archiveLoaded) return;
    await this.scan('archive');
    this.archiveLoaded = true;
  }

  summaries(includeArchived: boolean): ParentSummary[] {
    const all = [...this.entries.active.values()].map((e) => e.summary);
    if (includeArchived) for (const e of this.entries.archive.values()) all.push(e.summary);
    return all;
  }

  /**
   * Counts per status and the parents with active subtasks, without a pass over every subtask: with
   * tens of thousands of subtasks scattered over the heap, that pass alone costs milliseconds.
   */
  statistics(includeArchived: boolean): StoreStatistics {
    const locations: Location[] = includeArchived ? ['active', 'archive'] : ['active'];
    const counts = statusCounts([]);
    const withActive: ParentSummary[] = [];
    for (const location of locations) {
      for (const status of SUBTASK_STATUSES) counts[status] += this.totals[location].counts[status];
      withActive.push(...this.totals[location].withActive);
    }
    return { counts, parents: { active: this.entries.active.size, archived: this.entries.archive.size }, withActiveSubtasks: withActive.sort(byRecentFirst) };
  }

  /** The summaries, most recently updated first. */
  summariesByRecent(includeArchived: boolean): ParentSummary[] {
    const active = (this.recent.active ??= [...this.entries.active.values()].map((e) => e.summary).sort(byRecentFirst));
    if (!includeArchived) return active;
    const archive = (this.recent.archive ??= [...this.entries.archive.values()].map((e) => e.summary).sort(byRecentFirst));
    return mergeByRecent(active, archive);
  }

  summary(parentTaskId: string): ParentSummary | undefined {
    return (this.entries.active.get(parentTaskId) ?? this.entries.archive.get(parentTaskId))?.summary;
  }

  parentsOf(subtaskId: string): string[] {
    const parents = new Set(this.foreignSubtaskParents.get(subtaskId));
    const named = parentNamedBy(subtaskId);
    if (named && this.summary(named)?.subtasks.some((s) => s.task_id === subtaskId)) parents.add(named);
    return [...parents];
  }

  problems(): StoreProblem[] {
    return [...this.problemsByFile.values()].map(({ statKey: _statKey, ...problem }) => problem);
  }

  /** Records a parent this process just wrote, without reading it back. */
  noteWritten(parent: ParentTask, location: Location, statKey: string): void {
    this.remove(parent.parent_task_id);
    this.put(location, { summary: summarize(parent, location), statKey });
    this.problemsByFile.delete(path.join(this.dirOf(location), `${parent.parent_task_id}.json`));
  }

  /** Re-reads one parent from disk, wherever it is now. */
  reload(parentTaskId: string): void {
    if (!isValidTaskId(parentTaskId)) return;
    this.remove(parentTaskId);
    for (const location of ['active', 'archive'] as const) {
      if (location === 'archive' && !this.archiveLoaded) continue;
      this.readInto(location, `${parentTaskId}.json`);
    }
  }

  /** Compares every file with the index (inode, size, mtime) and re-reads what changed; one at a time. */
  rescan(): Promise<void> {
    this.rescanning ??= (async () => {
      this.journal = await this.journalEnd();
      await this.scan('active');
      if (this.archiveLoaded) await this.scan('archive');
    })().finally(() => {
      this.rescanning = null;
    });
    return this.rescanning;
  }

  /**
   * Reads every task file of a folder whose stat key changed; forgets files that are gone. Reads are
   * synchronous, in batches with a yield between them: for thousands of small files that is several
   * times faster than fs.promises (one thread-pool round trip per open, stat, read and close).
   */
  private async scan(location: Location): Promise<void> {
    const dir = this.dirOf(location);
    const names = listTaskFiles(dir);
    const present = new Set(names.map((n) => n.slice(0, -5)));
    for (const id of [...this.entries[location].keys()]) if (!present.has(id)) this.remove(id, location);
    for (const file of [...this.problemsByFile.keys()]) if (path.dirname(file) === dir && !present.has(path.basename(file, '.json'))) this.problemsByFile.delete(file);
    for (let i = 0; i < names.length; i += SCAN_BATCH) {
      for (const name of names.slice(i, i + SCAN_BATCH)) this.readInto(location, name);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private readInto(location: Location, name: string): void {
    const file = path.join(this.dirOf(location), name);
    const id = name.slice(0, -5);
    const known = (key: string) => this.entries[location].get(id)?.statKey === key || this.problemsByFile.get(file)?.statKey === key;
    if (known(quickStatKey(file))) return; // one stat instead of open, fstat, read and close
    const read = readIfChanged(file, known);
    if (read === 'gone') {
      this.remove(id, location);
      this.problemsByFile.delete(file);
    } else if (read !== 'unchanged') {
      this.ingest(location, file, id, read.text, read.statKey);
    }
  }

  private ingest(location: Location, file: string, id: string, text: string, statKey: string): void {
    const parsed = parseTaskFile(text);
    const problem = problemWith(id, parsed);
    this.remove(id, location);
    if (problem || !parsed.ok) {
      const reported = problem ?? { parent_task_id: id, kind: 'corrupt' as const, reason: 'unreadable', action: '' };
      if (this.problemsByFile.get(file)?.statKey !== statKey) this.logger.warn(`Task file ${file} cannot be used: ${reported.reason}. It was left as it is.`, { file, kind: reported.kind });
      this.problemsByFile.set(file, { file: relativeToRoot(this.layout, file), ...reported, statKey });
      return;
    }
    this.problemsByFile.delete(file);
    this.put(location, { summary: summarize(parsed.value, location), statKey });
  }

  private put(location: Location, entry: Entry): void {
    const id = entry.summary.parent_task_id;
    this.generation++;
    this.entries[location].set(id, entry);
    const ordered = this.recent[location];
    if (ordered) insertByRecent(ordered, entry.summary);
    this.count(location, entry.summary, +1);
    for (const s of entry.summary.subtasks) {
      if (parentNamedBy(s.task_id) === id) continue;
      const parents = this.foreignSubtaskParents.get(s.task_id) ?? new Set<string>();
      parents.add(id);
      this.foreignSubtaskParents.set(s.task_id, parents);
    }
  }

  private count(location: Location, summary: ParentSummary, sign: 1 | -1): void {
    const totals = this.totals[location];
    let active = false;
    for (const s of summary.subtasks) {
      totals.counts[s.status] += sign;
      active ||= s.status === 'active';
    }
    if (active && sign > 0) totals.withActive.add(summary);
    else totals.withActive.delete(summary);
  }

  private remove(parentTaskId: string, only?: Location): void {
    for (const location of only ? [only] : (['active', 'archive'] as const)) {
      const entry = this.entries[location].get(parentTaskId);
      if (!entry) continue;
      this.generation++;
      this.entries[location].delete(parentTaskId);
      this.count(location, entry.summary, -1);
      const ordered = this.recent[location];
      if (ordered) removeByRecent(ordered, entry.summary);
      for (const s of entry.summary.subtasks) {
        const parents = this.foreignSubtaskParents.get(s.task_id);
        parents?.delete(parentTaskId);
        if (parents?.size === 0) this.foreignSubtaskParents.delete(s.task_id);
      }
    }
  }

  private dirOf(location: Location): string {
    return location === 'active' ? this.layout.activeDir : this.layout.archiveDir;
  }

  private async journalEnd(): Promise<{ ino: number; offset: number }> {
    const info = await stat(this.layout.journalFile).catch(() => null);
    return info ? { ino: info.ino, offset: info.size } : { ino: -1, offset: 0 };
  }

  /** Parent ids appended to the journal between two offsets; a half-written last line waits for next time. */
  private async readJournal(from: number, to: number): Promise<Set<string>> {
    const handle = await open(this.layout.journalFile, 'r');
    try {
      const buffer = Buffer.alloc(to - from);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
      const text = buffer.subarray(0, bytesRead).toString('utf8');
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      this.journal.offset = from + Buffer.byteLength(complete);
      return new Set(complete.split('\n').filter(Boolean));
    } finally {
      await handle.close();
    }
  }
}

/** Why a task file cannot be used, or null when it can. */
export function problemWith(id: string, parsed: ReturnType<typeof parseTaskFile>): Omit<StoreProblem, 'file'> | null {
  if (!isValidTaskId(id)) {
    return { parent_task_id: null, kind: 'misplaced', reason: `the file name "${truncate(id, 60)}.json" is not a valid task id`, action: 'Rename it to <parent_task_id>.json or move it out of the tasks folder.' };
  }
  if (!parsed.ok && parsed.code === 'UNSUPPORTED_VERSION') {
    return { parent_task_id: id, kind: 'unsupported_version', reason: parsed.message, action: 'Upgrade task-orchestrator; this server leaves the file untouched.' };
  }
  if (!parsed.ok) {
    return { parent_task_id: id, kind: 'corrupt', reason: parsed.message, action: 'Fix the file by hand, restore it from a backup, or run "task-orchestrator doctor --fix" to set it aside. It is never deleted.' };
  }
  if (parsed.value.parent_task_id !== id) {
    return { parent_task_id: id, kind: 'misplaced', reason: `the file holds parent_task_id "${truncate(parsed.value.parent_task_id, 60)}", not "${id}"`, action: `Rename the file to ${parsed.value.parent_task_id}.json.` };
  }
  return null;
}

const SCAN_BATCH = 256;
const BACKGROUND_VERIFY_DELAY_MS = 300;
const INDEX_CACHE_FORMAT = 2;

/** Rows rather than objects: a third of the size, so a start with 10,000 tasks reads and parses it quickly. */
type CachedSubtask = [task_id: string, title: string, status: SubtaskStatus, specialist_type: string, owner: ActiveOwner | 0];
type CachedEntry = [statKey: string, id: string, title: string, description: string, status: ParentSummary['status'], created_at: string, updated_at: string, subtasks: CachedSubtask[]];

interface IndexCache {
  format: number;
  journal: { ino: number; offset: number };
  active: CachedEntry[];
  problems: (StoreProblem & { statKey: string })[];
}

function encodeEntry({ statKey, summary: s }: Entry): CachedEntry {
  return [statKey, s.parent_task_id, s.title, s.description, s.status, s.created_at, s.updated_at, s.subtasks.map((t) => [t.task_id, t.title, t.status, t.specialist_type, t.active_owner ?? 0])];
}

function decodeEntry(row: unknown[]): Entry | null {
  const [statKey, id, title, description, status, created_at, updated_at, subtasks] = row as CachedEntry;
  if (typeof statKey !== 'string' || typeof id !== 'string' || !Array.isArray(subtasks)) return null;
  return {
    statKey,
    summary: {
      parent_task_id: id,
      title,
      description,
      location: 'active',
      status,
      created_at,
      updated_at,
      subtasks: subtasks.map(([task_id, subtaskTitle, subtaskStatus, specialist_type, owner]) => ({ task_id, title: subtaskTitle, status: canonical(subtaskStatus), specialist_type: intern(specialist_type), active_owner: owner || null })),
    },
  };
}

function quickStatKey(file: string): string {
  const info = statSync(file, { throwIfNoEntry: false });
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}` : 'gone';
}

/** Reads a file unless its stat key (inode, size, mtime) says it is the version already indexed; one open, fstat, read. */
function readIfChanged(file: string, known: (statKey: string) => boolean): { text: string; statKey: string } | 'unchanged' | 'gone' {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'gone';
    throw error;
  }
  try {
    const info = fstatSync(fd);
    const statKey = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (known(statKey)) return 'unchanged';
    const buffer = Buffer.allocUnsafe(info.size);
    let filled = 0;
    while (filled < info.size) {
      const n = readSync(fd, buffer, filled, info.size - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return { text: buffer.toString('utf8', 0, filled), statKey };
  } finally {
    closeSync(fd);
  }
}

function listTaskFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch {
    return [];
  }
}

function mergeByRecent(a: readonly ParentSummary[], b: readonly ParentSummary[]): ParentSummary[] {
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

function insertByRecent(list: ParentSummary[], summary: ParentSummary): void {
  list.splice(positionByRecent(list, summary), 0, summary);
}

/** Removes a summary by binary search too: a write at 10,000 active parents must not scan them all. */
function removeByRecent(list: ParentSummary[], summary: ParentSummary): void {
  const guess = positionByRecent(list, summary);
  const position = list[guess] === summary ? guess : list.indexOf(summary);
  if (position >= 0) list.splice(position, 1);
}

/** The parent id that a subtask id of the form "<parent>.<n>" names, or null. */
export function parentNamedBy(subtaskId: string): string | null {
  const dot = subtaskId.lastIndexOf('.');
  return dot > 0 && /^\d+$/.test(subtaskId.slice(dot + 1)) ? subtaskId.slice(0, dot) : null;
}

function byRecentFirst(a: ParentSummary, b: ParentSummary): number {
  if (a.updated_at !== b.updated_at) return a.updated_at < b.updated_at ? 1 : -1;
  return a.parent_task_id < b.parent_task_id ? -1 : 1;
}

/**
 * The status literal itself rather than the copy JSON.parse made: queries count subtasks with
 * counts[status]++, which is several times faster with the one internalized string.
 */
function canonical(status: SubtaskStatus): SubtaskStatus {
  return SUBTASK_STATUSES.find((known) => known === status) ?? status;
}

/** Role names repeat across thousands of subtasks: one copy of each. */
const roleNames = new Map<string, string>();
function intern(role: string): string {
  let known = roleNames.get(role);
  if (known === undefined && roleNames.size < 1000) roleNames.set(role, (known = role));
  return known ?? role;
}

export function summarize(parent: ParentTask, location: Location): ParentSummary {
  return {
    parent_task_id: parent.parent_task_id,
    title: parent.title ?? truncate(parent.description, 100),
    description: location === 'archive' ? '' : truncate(parent.description, 120),
    location,
    status: isParentComplete(parent) ? 'completed' : 'active',
    created_at: parent.created_at,
    updated_at: parent.updated_at ?? parent.created_at,
    subtasks: parent.subtasks.map((s) => ({ task_id: s.task_id, title: s.title, status: canonical(s.status), specialist_type: intern(s.specialist_type), active_owner: s.active_owner ?? null })),
  };
}

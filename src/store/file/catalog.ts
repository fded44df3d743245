import { closeSync, lstatSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, ParentSummary, StoreProblem, StoreStatistics } from '../../app/ports.js';
import { statusCounts } from '../../domain/lifecycle.js';
import { SUBTASK_STATUSES, type ActiveOwner, type Lease, type ParentTask, type StatusCounts, type SubtaskStatus } from '../../domain/model.js';
import { isValidTaskId, truncate } from '../../domain/ids.js';
import { parseTaskFile } from '../../domain/task-file.js';
import { isCode, NotRegularFileError, openRegularFileSync, READ_FLAGS, readOpenFile, readRegularFileSync, tempPathFor } from './durable-fs.js';
import { relativeToRoot, type Layout } from './layout.js';
import { storageHint } from './storage-error.js';
import { byRecentFirst, canonical, insertByRecent, intern, mergeByRecent, removeByRecent, summarize } from '../summaries.js';

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
  /**
   * Settles once every file has been compared with the index cache (at once when nothing was left to a
   * background check). Never settles if the catalog is closed first.
   */
  firstVerification: Promise<void> = Promise.resolve();
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
      if (options.verifyInBackground) {
        this.firstVerification = new Promise((resolve) => {
          this.pendingVerify = setTimeout(() => void this.verify().then(resolve), BACKGROUND_VERIFY_DELAY_MS).unref();
        });
      } else await this.verify();
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
    const names = this.listTaskFiles(this.layout.activeDir);
    if (!names) return;
    const present = new Set(names.map((n) => n.slice(0, -5)));
    for (const id of [...this.entries.active.keys()]) if (!present.has(id)) this.remove(id, 'active');
    for (const name of names) {
      const id = name.slice(0, -5);
      if (!this.entries.active.has(id) && !this.problemsByFile.has(path.join(this.layout.activeDir, name))) this.readInto('active', name);
    }
  }

  /**
   * Loads the index from the cache file, all or nothing: every row and field is checked first, and any
   * doubt (a number where a name belongs, an unknown status, a null row, a negative journal offset)
   * means a scan instead. A cache is only a shortcut; a wrong one must never make the store unusable.
   */
  private restoreCache(): boolean {
    let json: unknown;
    try {
      json = JSON.parse(readRegularFileSync(this.layout.indexCacheFile).toString('utf8'));
    } catch (error) {
      // none yet, or torn by a crash: scan instead. Not a regular file (a named pipe, a link): never read.
      if (error instanceof NotRegularFileError) this.logger.warn(`${error.message}; the task folders are scanned instead, and the cache is written anew.`);
      return false;
    }
    const cache = decodeCache(json, this.layout);
    if (!cache) {
      if (isObject(json) && json.format === INDEX_CACHE_FORMAT) this.logger.info(`${this.layout.indexCacheFile} does not have the expected shape; it was ignored and the task folders scanned.`);
      return false;
    }
    for (const entry of cache.entries) this.put('active', entry);
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
      // Only lasting problems of active task files: a failed read (EMFILE) is tried again by the next start.
      problems: [...this.problemsByFile.values()].filter((p) => p.kind !== 'unreadable' && path.dirname(path.join(this.layout.root, p.file)) === this.layout.activeDir),
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
    const info = await this.journalInfo();
    if (!info) {
      if (this.journal.ino !== -1) return this.rescan();
      return;
    }
    if (info.ino !== this.journal.ino || info.size < this.journal.offset || info.size - this.journal.offset > JOURNAL_READ_LIMIT) return this.rescan();
    if (info.size === this.journal.offset) return;
    let ids: Set<string>;
    try {
      ids = await this.readJournal(this.journal.offset, info.size);
    } catch {
      return this.rescan(); // EMFILE, say: the rescan compares every file instead (and reports a folder it cannot list)
    }
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
    const names = this.listTaskFiles(dir);
    if (!names) return; // what could not be listed (EMFILE, say) is kept as it was, and reported
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
    if (known(quickStatKey(file))) return this.readable(file); // one stat instead of open, fstat, read and close
    let read: ReturnType<typeof readIfChanged>;
    try {
      read = readIfChanged(file, known);
    } catch (error) {
      return this.unreadable(location, file, id, error);
    }
    if (read === 'gone') {
      this.remove(id, location);
      this.problemsByFile.delete(file);
    } else if (read !== 'unchanged') {
      this.ingest(location, file, id, read.text, read.statKey);
    }
  }

  /**
   * A task file that could not be read. Something that is not a regular file (a named pipe, a link) is
   * reported as such and never opened. A read that failed (EMFILE, EACCES) is reported too, but the
   * parent's last known summary stays: the next look tries again.
   */
  unreadable(location: Location, file: string, id: string, error: unknown): void {
    if (error instanceof NotRegularFileError) {
      this.remove(id, location);
      this.report(file, { parent_task_id: id, kind: 'not_a_file', reason: `is ${error.what}, not a regular file, so the server never opens it`, action: 'Move it out of the tasks folder (it is not a task file this server wrote), or run "task-orchestrator doctor --fix" to set it aside.' }, quickStatKey(file));
      return;
    }
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    this.report(file, { parent_task_id: id, kind: 'unreadable', reason: `could not be read (${code}: ${(error as Error).message})`, action: `${storageHint(code)} Nothing was changed.` }, '');
  }

  /** A read of this file succeeded: a failed read reported earlier (EMFILE, say) is over. */
  readable(file: string): void {
    if (this.problemsByFile.get(file)?.kind === 'unreadable') this.problemsByFile.delete(file);
  }

  /** Records a problem, logging it the first time it is seen in this form. */
  private report(file: string, problem: Omit<StoreProblem, 'file'>, statKey: string): void {
    const known = this.problemsByFile.get(file);
    if (known?.statKey !== statKey || known.reason !== problem.reason) this.logger.warn(`${file} cannot be used: ${problem.reason}. It was left as it is.`, { file, kind: problem.kind });
    this.problemsByFile.set(file, { file: relativeToRoot(this.layout, file), ...problem, statKey });
  }

  /**
   * The task file names in a folder; null when it cannot be listed (then it is reported, and the index
   * keeps what it had: EMFILE must not look like a folder with no tasks). A missing folder has none.
   */
  private listTaskFiles(dir: string): string[] | null {
    try {
      const names = readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
      this.problemsByFile.delete(dir);
      return names;
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
      this.report(dir, { parent_task_id: null, kind: 'unreadable', reason: `the folder could not be listed (${code}: ${(error as Error).message}); its tasks are shown as last seen`, action: `${storageHint(code)} Nothing was changed.` }, '');
      return null;
    }
  }

  private ingest(location: Location, file: string, id: string, text: string, statKey: string): void {
    const parsed = parseTaskFile(text);
    const problem = problemWith(id, parsed);
    this.remove(id, location);
    if (problem || !parsed.ok) {
      this.report(file, problem ?? { parent_task_id: id, kind: 'corrupt' as const, reason: 'unreadable', action: '' }, statKey);
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
    const info = await this.journalInfo();
    return info ? { ino: info.ino, offset: info.size } : { ino: -1, offset: 0 };
  }

  /** The journal's inode and size; null when there is none, or only a link in its place (never followed). */
  private async journalInfo(): Promise<{ ino: number; size: number } | null> {
    const info = await lstat(this.layout.journalFile).catch(() => null);
    return info?.isFile() ? info : null;
  }

  /** Parent ids appended to the journal between two offsets; a half-written last line waits for next time. */
  private async readJournal(from: number, to: number): Promise<Set<string>> {
    let handle;
    try {
      handle = await open(this.layout.journalFile, READ_FLAGS);
    } catch (error) {
      if (isCode(error, 'ELOOP', 'EMLINK')) return new Set(); // a link put in its place since the lstat: the next look skips it
      throw error;
    }
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

/**
 * The journal is judged by lstat and opened without following a link or waiting for a writer: a link
 * there (to a growing log elsewhere, say) or a named pipe is never read, and its size never changes.
 */
/** More unread journal than this (it rotates at 1 MiB): a rescan costs less than reading it. */
const JOURNAL_READ_LIMIT = 4 * 1024 * 1024;

const SCAN_BATCH = 256;
const BACKGROUND_VERIFY_DELAY_MS = 300;
/** 4: a ninth column, the key id of an encrypted parent's envelopes (0 for a clear one). */
const INDEX_CACHE_FORMAT = 4;

/** Rows rather than objects: a third of the size, so a start with 10,000 tasks reads and parses it quickly. */
type CachedSubtask = [task_id: string, title: string, status: SubtaskStatus, specialist_type: string, owner: ActiveOwner | 0, lease: Lease | 0];
type CachedEntry = [statKey: string, id: string, title: string, description: string, status: ParentSummary['status'], created_at: string, updated_at: string, subtasks: CachedSubtask[], keyId: string | 0];

interface IndexCache {
  format: number;
  journal: { ino: number; offset: number };
  active: CachedEntry[];
  problems: CachedProblem[];
}

type CachedProblem = StoreProblem & { statKey: string };

function encodeEntry({ statKey, summary: s }: Entry): CachedEntry {
  return [statKey, s.parent_task_id, s.title, s.description, s.status, s.created_at, s.updated_at, s.subtasks.map((t) => [t.task_id, t.title, t.status, t.specialist_type, t.active_owner ?? 0, t.lease ?? 0]), s.encryption_key_id ?? 0];
}

/** The cache's content if every part of it has the expected shape, else null. */
function decodeCache(json: unknown, layout: Layout): { entries: Entry[]; problems: CachedProblem[]; journal: IndexCache['journal'] } | null {
  if (!isObject(json) || json.format !== INDEX_CACHE_FORMAT || !Array.isArray(json.active) || !Array.isArray(json.problems)) return null;
  const journal = json.journal;
  if (!isObject(journal) || !Number.isSafeInteger(journal.ino) || (journal.ino as number) < -1 || !Number.isSafeInteger(journal.offset) || (journal.offset as number) < 0) return null;
  const entries: Entry[] = [];
  const ids = new Set<string>();
  for (const row of json.active) {
    const entry = decodeEntry(row);
    if (!entry || ids.has(entry.summary.parent_task_id)) return null;
    ids.add(entry.summary.parent_task_id);
    entries.push(entry);
  }
  const problems: CachedProblem[] = [];
  for (const problem of json.problems) {
    if (!isCachedProblem(problem, layout)) return null;
    problems.push(problem);
  }
  return { entries, problems, journal: { ino: journal.ino as number, offset: journal.offset as number } };
}

function decodeEntry(row: unknown): Entry | null {
  if (!Array.isArray(row) || row.length !== 9) return null;
  const [statKey, id, title, description, status, created_at, updated_at, subtasks, keyId] = row as unknown[];
  if (keyId !== 0 && typeof keyId !== 'string') return null;
  if (!allText(statKey, id, title, description, created_at, updated_at) || !isValidTaskId(id as string)) return null;
  if ((status !== 'active' && status !== 'completed') || !Array.isArray(subtasks)) return null;
  const decoded: ParentSummary['subtasks'] = [];
  for (const subtask of subtasks) {
    const one = decodeSubtask(subtask);
    if (!one) return null;
    decoded.push(one);
  }
  return {
    statKey: statKey as string,
    summary: { parent_task_id: id as string, title: title as string, description: description as string, location: 'active', status, created_at: created_at as string, updated_at: updated_at as string, subtasks: decoded, ...(keyId === 0 ? {} : { encryption_key_id: keyId }) },
  };
}

function decodeSubtask(row: unknown): ParentSummary['subtasks'][number] | null {
  if (!Array.isArray(row) || row.length !== 6) return null;
  const [task_id, title, status, specialist_type, owner, lease] = row as unknown[];
  if (!allText(task_id, title, specialist_type) || !(SUBTASK_STATUSES as readonly unknown[]).includes(status)) return null;
  if (owner !== 0 && !isOwner(owner)) return null;
  if (lease !== 0 && !(isObject(lease) && allText(lease.agent_id, lease.expires_at))) return null;
  return { task_id: task_id as string, title: title as string, status: canonical(status as SubtaskStatus), specialist_type: intern(specialist_type as string), active_owner: owner === 0 ? null : owner, lease: lease === 0 ? null : (lease as unknown as Lease) };
}

function isOwner(value: unknown): value is ActiveOwner {
  return isObject(value) && Number.isSafeInteger(value.pid) && typeof value.host === 'string' && typeof value.instance === 'string';
}

const PROBLEM_KINDS: readonly unknown[] = ['corrupt', 'unsupported_version', 'misplaced', 'not_a_file'] satisfies StoreProblem['kind'][];

/** A problem of a file directly in tasks/active/ (the only ones the cache holds). */
function isCachedProblem(value: unknown, layout: Layout): value is CachedProblem {
  if (!isObject(value) || !allText(value.file, value.reason, value.action, value.statKey) || !PROBLEM_KINDS.includes(value.kind)) return false;
  if (value.parent_task_id !== null && typeof value.parent_task_id !== 'string') return false;
  const file = path.join(layout.root, value.file as string);
  return path.dirname(file) === layout.activeDir && (value.file as string).endsWith('.json');
}

function allText(...values: unknown[]): boolean {
  return values.every((value) => typeof value === 'string');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** lstat: a link is judged as itself, as the read that follows never follows it. */
function quickStatKey(file: string): string {
  const info = lstatSync(file, { throwIfNoEntry: false });
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}` : 'gone';
}

/** Reads a file unless its stat key (inode, size, mtime) says it is the version already indexed; one open, fstat, read. */
function readIfChanged(file: string, known: (statKey: string) => boolean): { text: string; statKey: string } | 'unchanged' | 'gone' {
  let opened: ReturnType<typeof openRegularFileSync>;
  try {
    opened = openRegularFileSync(file);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'gone';
    throw error;
  }
  const { fd, info } = opened;
  try {
    const statKey = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (known(statKey)) return 'unchanged';
    return { text: readOpenFile(fd, info.size).toString('utf8'), statKey };
  } finally {
    closeSync(fd);
  }
}

/** The parent id that a subtask id of the form "<parent>.<n>" names, or null. */
export function parentNamedBy(subtaskId: string): string | null {
  const dot = subtaskId.lastIndexOf('.');
  return dot > 0 && /^\d+$/.test(subtaskId.slice(dot + 1)) ? subtaskId.slice(0, dot) : null;
}

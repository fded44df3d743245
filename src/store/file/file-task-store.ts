import { closeSync, fstatSync, renameSync, statSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, ParentSummary, PlanKeyRecord, StoreProblem, StoreStatistics, TaskStore } from '../../app/ports.js';
import { OrchestratorError } from '../../domain/errors.js';
import { isValidTaskId, newParentTaskId } from '../../domain/ids.js';
import { isParentComplete } from '../../domain/lifecycle.js';
import type { ParentTask } from '../../domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../../domain/task-file.js';
import { Catalog, parentNamedBy, problemWith } from './catalog.js';
import { createFileExclusive, isCode, LinkRefusedError, moveFileDurable, moveFileNoReplace, nodeFs, NotRegularFileError, openAppendNoFollow, readRegularFile, readRegularFileWithStatSync, tempPathFor, writeFileDurable, type DurableFs } from './durable-fs.js';
import { ensureLayout, relativeToRoot, taskFileName, type Layout } from './layout.js';
import { LockManager, type HeldLock } from './lock.js';
import { PlanKeys } from './plan-keys.js';
import { randomHex } from './random-hex.js';
import { archiveCompletedParents, recover, type RecoveryReport } from './recovery.js';
import { storageError } from './storage-error.js';
import { finishInterruptedRestore } from './tasks-swap.js';

export interface FileStoreOptions {
  layout: Layout;
  logger: Logger;
  locks: LockManager;
  fs?: DurableFs;
  randomHex?: (chars: number) => string;
  /** How often queries rescan the folders for changes made outside the journal (edits by hand). */
  rescanIntervalMs?: number;
  /** Run recovery on open (default true); the CLI's read-only and selective commands turn it off. */
  recover?: boolean;
  /** Let open() return before every file's stat key is checked against the index cache (the server). */
  verifyInBackground?: boolean;
  /** .task_orchestrator/ cannot be written (a read-only mount, say): open creates and recovers nothing, changes are refused. */
  readOnly?: boolean;
}

const JOURNAL_ROTATE_BYTES = 1024 * 1024;

/** The embedded default store: one JSON file per parent under .task_orchestrator/tasks/. */
export class FileTaskStore implements TaskStore {
  readonly catalog: Catalog;
  private readonly planKeys: PlanKeys;
  private readonly fs: DurableFs;
  private readonly randomHex: (chars: number) => string;
  lastRecovery: RecoveryReport | null = null;

  private constructor(private readonly options: FileStoreOptions) {
    this.fs = options.fs ?? nodeFs;
    this.randomHex = options.randomHex ?? randomHex;
    this.catalog = new Catalog(options.layout, options.logger, options.rescanIntervalMs ?? 30_000);
    this.planKeys = new PlanKeys(options.layout.idempotencyDir, options.logger, this.fs);
  }

  /** Creates the layout if needed, indexes the active tasks and runs recovery (idempotent, safe beside other processes). */
  static async open(options: FileStoreOptions): Promise<FileTaskStore> {
    if (!options.readOnly) {
      await finishInterruptedRestore(options.layout, options.logger); // before the layout: tasks/ may be mid-swap
      await ensureLayout(options.layout);
    }
    const store = new FileTaskStore(options);
    await store.catalog.load({ verifyInBackground: options.verifyInBackground === true });
    if (options.recover !== false && !options.readOnly) {
      store.lastRecovery = await recover(store, options.layout, options.logger);
      // The index cache can predate a crash that completed a parent after its last journal line (the
      // task file renamed into place, nothing after): the check of every file against the cache finds
      // it, and then it is archived like the others.
      if (options.verifyInBackground) {
        void store.catalog.firstVerification.then(async () => {
          const archived = await archiveCompletedParents(store, options.logger);
          if (archived.length) options.logger.info('Recovery archived completed tasks the index cache did not know of', { archived });
        });
      }
    }
    return store;
  }

  get layout(): Layout {
    return this.options.layout;
  }

  get locks(): LockManager {
    return this.options.locks;
  }

  get readOnly(): boolean {
    return this.options.readOnly === true;
  }

  async create(build: (parentTaskId: string) => ParentTask): Promise<ParentTask> {
    this.refuseIfReadOnly();
    for (;;) {
      const parent = build(newParentTaskId(this.randomHex));
      const id = parent.parent_task_id;
      if (await exists(this.archivePath(id))) continue;
      try {
        await createFileExclusive(this.activePath(id), serializeTaskFile(parent), { durable: true }, this.fs);
      } catch (error) {
        if (isCode(error, 'EEXIST')) continue; // another process took this id a moment ago: draw again
        throw storageError(error, `create task file ${this.activePath(id)}`);
      }
      await this.afterWrite(parent, 'active');
      return parent;
    }
  }

  async newParentId(): Promise<string> {
    for (;;) {
      const id = newParentTaskId(this.randomHex);
      if (!(await exists(this.activePath(id))) && !(await exists(this.archivePath(id)))) return id;
    }
  }

  async reservePlanKey(keySha256: string, proposed: PlanKeyRecord): Promise<PlanKeyRecord> {
    this.refuseIfReadOnly();
    return this.planKeys.reserve(keySha256, proposed);
  }

  async createWithId(parent: ParentTask): Promise<{ parent: ParentTask; created: boolean }> {
    this.refuseIfReadOnly();
    const id = parent.parent_task_id;
    if (!(await exists(this.archivePath(id)))) {
      let created = true;
      try {
        await createFileExclusive(this.activePath(id), serializeTaskFile(parent), { durable: true }, this.fs);
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw storageError(error, `create task file ${this.activePath(id)}`);
        created = false; // a retry racing this one created it a moment ago
      }
      if (created) {
        await this.afterWrite(parent, 'active');
        return { parent, created };
      }
    }
    return { parent: await this.read(id), created: false };
  }

  async read(parentTaskId: string): Promise<ParentTask> {
    return (await this.readWithLocation(parentTaskId)).parent;
  }

  async update(parentTaskId: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): Promise<ParentTask> {
    this.refuseIfReadOnly();
    return this.options.locks.withLock(parentTaskId, async (held) => {
      const { parent, location, info } = await this.readWithLocation(parentTaskId);
      const next = await change(parent);
      if (next === parent) return parent;
      const stored = { ...next, revision: (parent.revision ?? 0) + 1 };
      const active = this.activePath(parentTaskId);
      // The fence, just before the change commits: the lock is still ours and the file is still the revision
      // we read (a write by another process always renames a new inode into place). Otherwise LOCK_LOST,
      // and nothing changed: this process was paused past the stale time and another took over.
      const fence = () => {
        held.assertStillMine();
        if (!sameFile(statSync(active, { throwIfNoEntry: false }), info)) throw this.changedMeanwhile(parentTaskId);
      };
      if (location === 'archive') {
        held.assertStillMine();
        await this.moveDurably(this.archivePath(parentTaskId), active); // same inode, size and mtime: the fence holds
      }
      await this.writeDurably(active, serializeTaskFile(stored), fence);
      if (isParentComplete(stored)) {
        try {
          return await this.archiveLocked(stored, held);
        } catch (error) {
          // The change itself is on disk; the next start (or "doctor --fix") finishes the move.
          this.options.logger.warn(`Completed task ${parentTaskId} stays in tasks/active/ for now: ${(error as Error).message}`);
        }
      }
      await this.afterWrite(stored, 'active');
      return stored;
    });
  }

  /** Archives a completed parent still in tasks/active/ (a crash between completion and the move). */
  async locationOf(parentTaskId: string): Promise<'active' | 'archive' | null> {
    if (!isValidTaskId(parentTaskId)) return null;
    if (await exists(this.activePath(parentTaskId))) return 'active';
    return (await exists(this.archivePath(parentTaskId))) ? 'archive' : null;
  }

  async archiveIfComplete(parentTaskId: string): Promise<boolean> {
    this.refuseIfReadOnly();
    return this.options.locks.withLock(parentTaskId, async (held) => {
      const { parent, location } = await this.readWithLocation(parentTaskId);
      if (location !== 'active' || !isParentComplete(parent)) return false;
      await this.archiveLocked(parent, held);
      return true;
    });
  }

  /**
   * Stores a parent under the id it already has (an import), unless that id is taken, active or
   * archived: then false and nothing is written. Never overwrites a file.
   */
  async importParent(parent: ParentTask, location: 'active' | 'archive'): Promise<boolean> {
    this.refuseIfReadOnly();
    const id = parent.parent_task_id;
    return this.options.locks.withLock(id, async () => {
      if ((await exists(this.activePath(id))) || (await exists(this.archivePath(id)))) return false;
      const file = location === 'active' ? this.activePath(id) : this.archivePath(id);
      try {
        await createFileExclusive(file, serializeTaskFile(parent), { durable: true }, this.fs);
      } catch (error) {
        if (isCode(error, 'EEXIST')) return false;
        throw storageError(error, `create task file ${file}`);
      }
      await this.afterWrite(parent, location);
      return true;
    });
  }

  async removeArchived(parentTaskIds: readonly string[]): Promise<string[]> {
    this.refuseIfReadOnly();
    const refused: string[] = [];
    for (const id of parentTaskIds) if (!(await this.isRemovable(id))) refused.push(id);
    if (refused.length) throw notRemovable(refused);
    const removed: string[] = [];
    for (const id of parentTaskIds) {
      const gone = await this.options.locks.withLock(id, async () => {
        if (!(await exists(this.archivePath(id))) || !(await this.isRemovable(id))) return false; // gone, or changed meanwhile
        await this.fs.unlink(this.archivePath(id));
        await this.fs.syncDir(this.options.layout.archiveDir);
        await rm(path.join(this.options.layout.workDir, id), { recursive: true, force: true });
        return true;
      });
      if (!gone) continue;
      this.catalog.reload(id);
      await this.appendJournal(id);
      removed.push(id);
    }
    return removed;
  }

  /** An archived, completed parent (an id with no parent at all counts too: there is nothing to keep). */
  private async isRemovable(id: string): Promise<boolean> {
    if (!isValidTaskId(id)) return false;
    if (await exists(this.activePath(id))) return false;
    if (!(await exists(this.archivePath(id)))) return true;
    try {
      return isParentComplete(await this.read(id));
    } catch {
      return false; // a file that cannot be read is never deleted
    }
  }

  private async archiveLocked(parent: ParentTask, held: HeldLock): Promise<ParentTask> {
    const id = parent.parent_task_id;
    held.assertStillMine(); // a successor may be writing tasks/active/<id>.json: never move it from under it
    try {
      await moveFileNoReplace(this.activePath(id), this.archivePath(id), this.fs);
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw storageError(error, `move ${this.activePath(id)} to tasks/archive/`);
      // Never replace an archived file (a restored backup, say): keep both for a person to compare.
      throw new OrchestratorError('STORAGE_ERROR', `Task ${id} is completed but tasks/archive/${id}.json already exists and is a different file, so it stays in tasks/active/. Compare the two files, keep the right one, then run "task-orchestrator doctor --fix".`, { parent_task_id: id });
    }
    this.options.logger.info(`Archived completed task ${id}`, { parent_task_id: id });
    await this.afterWrite(parent, 'archive');
    return parent;
  }

  async parentsOfSubtask(subtaskId: string): Promise<string[]> {
    // An id this server gave ("<parent>.<n>") names its parent, and no other process can change that:
    // the write path needs no look at the index, let alone a refresh of it.
    const named = parentNamedBy(subtaskId);
    if (named && isValidTaskId(named) && (await this.holds(named, subtaskId))) return [named];
    await this.catalog.refresh();
    const parents = this.catalog.parentsOf(subtaskId);
    if (parents.length > 0) return parents;
    await this.catalog.ensureArchive();
    return this.catalog.parentsOf(subtaskId);
  }

  /**
   * Whether a parent holds the subtask id, asked of the index (a parent's subtasks are fixed when it is
   * planned), else of its file (a parent another process created a moment ago); false when it has no such subtask.
   * A file that cannot be used counts as holding it: the caller's read then says what is wrong with it.
   */
  private async holds(parentTaskId: string, subtaskId: string): Promise<boolean> {
    const summary = this.catalog.summary(parentTaskId);
    if (summary) return summary.subtasks.some((s) => s.task_id === subtaskId);
    try {
      return (await this.read(parentTaskId)).subtasks.some((s) => s.task_id === subtaskId);
    } catch (error) {
      return !(error instanceof OrchestratorError && error.code === 'TASK_NOT_FOUND');
    }
  }

  async list(options: { includeArchived: boolean }): Promise<ParentSummary[]> {
    await this.catalog.refresh();
    if (options.includeArchived) await this.catalog.ensureArchive();
    return this.catalog.summariesByRecent(options.includeArchived);
  }

  async statistics(options: { includeArchived: boolean }): Promise<StoreStatistics> {
    await this.catalog.refresh();
    if (options.includeArchived) await this.catalog.ensureArchive();
    return this.catalog.statistics(options.includeArchived);
  }

  problems(): StoreProblem[] {
    return this.catalog.problems();
  }

  async saveDocument(parentTaskId: string, subtaskId: string, text: string, number: number): Promise<string> {
    this.refuseIfReadOnly();
    const dir = path.join(this.options.layout.workDir, parentTaskId);
    // A new folder's own entry must reach the disk too, or power loss could lose the file inside it.
    if (await mkdir(dir, { recursive: true })) await this.fs.syncDir(this.options.layout.workDir).catch((error: Error) => {
      throw storageError(error, `create ${dir}`);
    });
    const file = path.join(dir, `${subtaskId}.${number}.md`);
    await this.writeDurably(file, text);
    return relativeToRoot(this.options.layout, file);
  }

  async readDocument(relativePath: string): Promise<string | null> {
    const file = this.documentFile(relativePath);
    if (file === null) return null;
    try {
      return (await readRegularFile(file)).toString('utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT')) return null;
      throw storageError(error, `read ${file}`);
    }
  }

  /** The file of a document path as saveDocument returns it (tasks/work/<parent>/<name>.md); null for anything else. */
  private documentFile(relativePath: string): string | null {
    const parts = relativePath.split('/');
    if (parts.length !== 4 || parts[0] !== 'tasks' || parts[1] !== 'work' || !isValidTaskId(parts[2]!) || !parts[3]!.endsWith('.md') || !isValidTaskId(parts[3]!.slice(0, -3))) return null;
    return path.join(this.options.layout.workDir, parts[2]!, parts[3]!);
  }

  async close(): Promise<void> {
    this.catalog.close();
    this.options.locks.close(); // its spare lock files
  }

  /** Every change starts here: in a read-only store it is refused before any lock or file is touched. */
  private refuseIfReadOnly(): void {
    if (!this.readOnly) return;
    const root = this.options.layout.root;
    throw new OrchestratorError(
      'STORAGE_ERROR',
      `${root} is read-only: its tasks can be read but not changed. Nothing was changed. Make the folder writable (or mount it read-write), then restart the server or run the command again.`,
      { read_only: true, root },
    );
  }

  /** Where a parent's file is, relative to .task_orchestrator/, for reports: tasks/active/<id>.json unless only the archive has it. */
  locate(id: string): string {
    const archived = !statSync(this.activePath(id), { throwIfNoEntry: false }) && statSync(this.archivePath(id), { throwIfNoEntry: false });
    return relativeToRoot(this.options.layout, archived ? this.archivePath(id) : this.activePath(id));
  }

  activePath(id: string): string {
    return path.join(this.options.layout.activeDir, taskFileName(id));
  }

  archivePath(id: string): string {
    return path.join(this.options.layout.archiveDir, taskFileName(id));
  }

  /** The error of a fence that found the task file replaced since it was read, though the lock is still ours. */
  private changedMeanwhile(parentTaskId: string): OrchestratorError {
    return new OrchestratorError('LOCK_LOST', `Task ${parentTaskId} was changed by another process while this change was being made (the lock was not respected: an old server, or an edit by hand). Nothing was changed. Read the task again (orchestrator_get_status) and repeat the call if it is still needed.`, { parent_task_id: parentTaskId });
  }

  private async readWithLocation(parentTaskId: string): Promise<{ parent: ParentTask; location: 'active' | 'archive'; info: Stats }> {
    if (!isValidTaskId(parentTaskId)) throw new OrchestratorError('INVALID_TASK_ID', `"${parentTaskId}" is not a task id.`);
    for (const location of ['active', 'archive'] as const) {
      const file = location === 'active' ? this.activePath(parentTaskId) : this.archivePath(parentTaskId);
      let text: string;
      let info: Stats;
      try {
        const read = readRegularFileWithStatSync(file); // small file: a synchronous read is far cheaper than four thread-pool round trips
        text = read.data.toString('utf8');
        info = read.info;
      } catch (error) {
        if (isCode(error, 'ENOENT')) continue;
        // Reported with the store's problems too: a session start that cannot show this task says why.
        this.catalog.unreadable(location, file, parentTaskId, error);
        if (error instanceof NotRegularFileError) {
          throw new OrchestratorError('STORE_CORRUPT', `Task ${parentTaskId} cannot be used: ${relativeToRoot(this.options.layout, file)} is ${error.what}, not a regular file, so the server never opens it. Move it out of the tasks folder, or run "task-orchestrator doctor --fix" to set it aside.`, { file, reason: `is ${error.what}, not a regular file` });
        }
        throw storageError(error, `read ${file}`);
      }
      this.catalog.readable(file);
      const parsed = parseTaskFile(text);
      const problem = problemWith(parentTaskId, parsed);
      if (problem || !parsed.ok) {
        const reason = problem?.reason ?? 'unreadable';
        throw new OrchestratorError(problem?.kind === 'unsupported_version' ? 'UNSUPPORTED_VERSION' : 'STORE_CORRUPT', `Task ${parentTaskId} cannot be used: ${relativeToRoot(this.options.layout, file)} ${reason}. The file was kept as it is. ${problem?.action ?? ''}`.trim(), { file, reason });
      }
      return { parent: parsed.value, location, info };
    }
    throw new OrchestratorError('TASK_NOT_FOUND', `No task ${parentTaskId} in ${relativeToRoot(this.options.layout, this.options.layout.activeDir)} or tasks/archive. Call orchestrator_get_status to list the task ids.`, { parent_task_id: parentTaskId });
  }

  private async writeDurably(file: string, text: string, beforeCommit?: () => void): Promise<void> {
    try {
      await writeFileDurable(file, text, this.fs, undefined, beforeCommit);
    } catch (error) {
      throw storageError(error, `write ${file}`);
    }
  }

  private async moveDurably(from: string, to: string): Promise<void> {
    try {
      await moveFileDurable(from, to, this.fs);
    } catch (error) {
      throw storageError(error, `move ${from} to ${to}`);
    }
  }

  /** Tells the index and, through the journal, every other process that this parent changed. */
  private async afterWrite(parent: ParentTask, location: 'active' | 'archive'): Promise<void> {
    const file = location === 'active' ? this.activePath(parent.parent_task_id) : this.archivePath(parent.parent_task_id);
    const info = statSync(file, { throwIfNoEntry: false });
    this.catalog.noteWritten(parent, location, info ? `${info.ino}:${info.size}:${info.mtimeMs}` : '');
    await this.appendJournal(parent.parent_task_id);
  }

  private async appendJournal(parentTaskId: string): Promise<void> {
    const journal = this.options.layout.journalFile;
    try {
      const line = `${parentTaskId}\n`;
      const fd = this.openJournal();
      let info: Stats;
      try {
        writeSync(fd, line);
        info = fstatSync(fd);
      } finally {
        closeSync(fd);
      }
      this.catalog.acknowledgeOwnAppend(info, Buffer.byteLength(line));
      // Replacing the journal gives it a new inode: readers notice and rescan instead of missing entries.
      if (info.size > JOURNAL_ROTATE_BYTES) {
        const temp = tempPathFor(journal);
        writeFileSync(temp, '');
        renameSync(temp, journal);
      }
    } catch (error) {
      // The journal only speeds up other processes' queries; their periodic rescan covers a lost entry.
      this.options.logger.warn(`Could not append to ${journal}: ${(error as Error).message}`);
    }
  }

  /**
   * The journal, opened for appending without following a link. A link in its place (a cloned
   * repository can carry one, pointing anywhere) is moved aside, not written through, and a new
   * journal started: the journal is only a hint, so nothing is lost, and every write goes on working.
   */
  private openJournal(): number {
    const journal = this.options.layout.journalFile;
    try {
      return openAppendNoFollow(journal);
    } catch (error) {
      if (!(error instanceof LinkRefusedError || error instanceof NotRegularFileError)) throw error;
      const aside = `${journal}${JOURNAL_LINK_ASIDE_SUFFIX}`;
      try {
        renameSync(journal, aside); // renames the link itself; where it points is not touched
      } catch (moveError) {
        if (!isCode(moveError, 'ENOENT')) throw moveError; // another process moved it a moment ago
      }
      const relative = (file: string) => relativeToRoot(this.options.layout, file);
      const what = error instanceof LinkRefusedError ? `a symbolic link (to ${error.target})` : error.what;
      this.options.logger.warn(`${relative(journal)} was ${what}, not a regular file. task-orchestrator never writes through one, so it moved it to ${relative(aside)} and started a new journal; nothing was written where it leads. Remove ${relative(aside)}.`, { file: journal });
      return openAppendNoFollow(journal);
    }
  }
}

function notRemovable(ids: readonly string[]): OrchestratorError {
  return new OrchestratorError('INVALID_INPUT', `Only archived, completed tasks can be removed; not ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}. Nothing was removed.`, { parent_task_ids: ids });
}

/** Where a link found in place of tasks/journal.log is moved (tasks/journal.log.link). */
const JOURNAL_LINK_ASIDE_SUFFIX = '.link';

/** The same file as read: same inode, size and modification time (a write by rename always brings a new inode). */
function sameFile(now: Stats | undefined, read: Stats): boolean {
  return now !== undefined && now.ino === read.ino && now.dev === read.dev && now.size === read.size && now.mtimeMs === read.mtimeMs;
}

async function exists(file: string): Promise<boolean> {
  return statSync(file, { throwIfNoEntry: false }) !== undefined;
}

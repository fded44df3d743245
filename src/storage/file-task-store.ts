import { appendFileSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, ParentSummary, StoreProblem, StoreStatistics, TaskStore } from '../app/ports.js';
import { OrchestratorError } from '../domain/errors.js';
import { isValidTaskId, newParentTaskId } from '../domain/ids.js';
import { isParentComplete } from '../domain/lifecycle.js';
import type { ParentTask } from '../domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../domain/task-file.js';
import { Catalog, parentNamedBy, problemWith } from './catalog.js';
import { createFileExclusive, isCode, moveFileDurable, moveFileNoReplace, nodeFs, tempPathFor, UnflushedChangeError, writeFileDurable, type DurableFs } from './durable-fs.js';
import { ensureLayout, relativeToRoot, taskFileName, type Layout } from './layout.js';
import { LockManager } from './lock.js';
import { randomHex } from './random-hex.js';
import { recover, type RecoveryReport } from './recovery.js';

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
}

const JOURNAL_ROTATE_BYTES = 1024 * 1024;

/** The embedded default store: one JSON file per parent under .task_orchestrator/tasks/. */
export class FileTaskStore implements TaskStore {
  readonly catalog: Catalog;
  private readonly fs: DurableFs;
  private readonly randomHex: (chars: number) => string;
  lastRecovery: RecoveryReport | null = null;

  private constructor(private readonly options: FileStoreOptions) {
    this.fs = options.fs ?? nodeFs;
    this.randomHex = options.randomHex ?? randomHex;
    this.catalog = new Catalog(options.layout, options.logger, options.rescanIntervalMs ?? 30_000);
  }

  /** Creates the layout if needed, indexes the active tasks and runs recovery (idempotent, safe beside other processes). */
  static async open(options: FileStoreOptions): Promise<FileTaskStore> {
    await ensureLayout(options.layout);
    const store = new FileTaskStore(options);
    await store.catalog.load({ verifyInBackground: options.verifyInBackground === true });
    if (options.recover !== false) store.lastRecovery = await recover(store, options.layout, options.logger);
    return store;
  }

  get layout(): Layout {
    return this.options.layout;
  }

  get locks(): LockManager {
    return this.options.locks;
  }

  async create(build: (parentTaskId: string) => ParentTask): Promise<ParentTask> {
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

  async read(parentTaskId: string): Promise<ParentTask> {
    return (await this.readWithLocation(parentTaskId)).parent;
  }

  async update(parentTaskId: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): Promise<ParentTask> {
    return this.options.locks.withLock(parentTaskId, async () => {
      const { parent, location } = await this.readWithLocation(parentTaskId);
      const next = await change(parent);
      if (next === parent) return parent;
      const stored = { ...next, revision: (parent.revision ?? 0) + 1 };
      if (location === 'archive') await this.moveDurably(this.archivePath(parentTaskId), this.activePath(parentTaskId));
      await this.writeDurably(this.activePath(parentTaskId), serializeTaskFile(stored));
      if (isParentComplete(stored)) {
        try {
          return await this.archiveLocked(stored);
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
    return this.options.locks.withLock(parentTaskId, async () => {
      const { parent, location } = await this.readWithLocation(parentTaskId);
      if (location !== 'active' || !isParentComplete(parent)) return false;
      await this.archiveLocked(parent);
      return true;
    });
  }

  /**
   * Stores a parent under the id it already has (an import), unless that id is taken, active or
   * archived: then false and nothing is written. Never overwrites a file.
   */
  async importParent(parent: ParentTask, location: 'active' | 'archive'): Promise<boolean> {
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

  private async archiveLocked(parent: ParentTask): Promise<ParentTask> {
    const id = parent.parent_task_id;
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
    if (named && isValidTaskId(named) && (this.catalog.summary(named) || (await exists(this.activePath(named))) || (await exists(this.archivePath(named))))) return [named];
    await this.catalog.refresh();
    const parents = this.catalog.parentsOf(subtaskId);
    if (parents.length > 0) return parents;
    await this.catalog.ensureArchive();
    return this.catalog.parentsOf(subtaskId);
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

  async saveDocument(parentTaskId: string, subtaskId: string, text: string): Promise<string> {
    const dir = path.join(this.options.layout.workDir, parentTaskId);
    // A new folder's own entry must reach the disk too, or power loss could lose the file inside it.
    if (await mkdir(dir, { recursive: true })) await this.fs.syncDir(this.options.layout.workDir).catch((error: Error) => {
      throw storageError(error, `create ${dir}`);
    });
    const file = path.join(dir, `${subtaskId}.${Date.now().toString(36)}${this.randomHex(4)}.md`);
    await this.writeDurably(file, text);
    return relativeToRoot(this.options.layout, file);
  }

  async close(): Promise<void> {
    this.catalog.close();
    this.options.locks.close(); // its spare lock files
  }

  activePath(id: string): string {
    return path.join(this.options.layout.activeDir, taskFileName(id));
  }

  archivePath(id: string): string {
    return path.join(this.options.layout.archiveDir, taskFileName(id));
  }

  private async readWithLocation(parentTaskId: string): Promise<{ parent: ParentTask; location: 'active' | 'archive' }> {
    if (!isValidTaskId(parentTaskId)) throw new OrchestratorError('INVALID_TASK_ID', `"${parentTaskId}" is not a task id.`);
    for (const location of ['active', 'archive'] as const) {
      const file = location === 'active' ? this.activePath(parentTaskId) : this.archivePath(parentTaskId);
      let text: string;
      try {
        text = readFileSync(file, 'utf8'); // small file: a synchronous read is far cheaper than four thread-pool round trips
      } catch (error) {
        if (isCode(error, 'ENOENT')) continue;
        throw storageError(error, `read ${file}`);
      }
      const parsed = parseTaskFile(text);
      const problem = problemWith(parentTaskId, parsed);
      if (problem || !parsed.ok) {
        const reason = problem?.reason ?? 'unreadable';
        throw new OrchestratorError(problem?.kind === 'unsupported_version' ? 'UNSUPPORTED_VERSION' : 'STORE_CORRUPT', `Task ${parentTaskId} cannot be used: ${relativeToRoot(this.options.layout, file)} ${reason}. The file was kept as it is. ${problem?.action ?? ''}`.trim(), { file, reason });
      }
      return { parent: parsed.value, location };
    }
    throw new OrchestratorError('TASK_NOT_FOUND', `No task ${parentTaskId} in ${relativeToRoot(this.options.layout, this.options.layout.activeDir)} or tasks/archive. Call orchestrator_get_status to list the task ids.`, { parent_task_id: parentTaskId });
  }

  private async writeDurably(file: string, text: string): Promise<void> {
    try {
      await writeFileDurable(file, text, this.fs);
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
      appendFileSync(journal, line);
      const info = statSync(journal);
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
}

async function exists(file: string): Promise<boolean> {
  return statSync(file, { throwIfNoEntry: false }) !== undefined;
}

function storageError(error: unknown, what: string): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const unflushed = error instanceof UnflushedChangeError;
  const cause = unflushed ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown';
  const hint = code === 'ENOSPC' ? 'The disk is full; free some space and try again.' : code === 'EACCES' || code === 'EPERM' ? 'Check the permissions of the .task_orchestrator folder.' : 'Check the disk and the .task_orchestrator folder, then try again.';
  const outcome = unflushed
    ? 'The new version is in place but could not be flushed to disk, so it might not survive a power failure: check with orchestrator_get_status before retrying.'
    : 'Nothing was changed.';
  return new OrchestratorError('STORAGE_ERROR', `Could not ${what} (${code}: ${(cause as Error).message}). ${outcome} ${hint}`, { errno: code, unflushed });
}

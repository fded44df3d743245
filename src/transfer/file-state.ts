import { closeSync, writeSync } from 'node:fs';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../app/ports.js';
import { OrchestratorError } from '../domain/errors.js';
import { isValidTaskId } from '../domain/ids.js';
import { readRoleFileSet } from '../roles/role-files.js';
import { createFileExclusive, isCode, nodeFs, openAppendNoFollow, readRegularFile, writeFileDurable } from '../store/file/durable-fs.js';
import type { Layout } from '../store/file/layout.js';
import type { LockManager } from '../store/file/lock.js';
import { liveLocks, replaceTasksTree, type StagedTree } from '../store/file/tasks-swap.js';
import { documentEntryName, parentEntryName, planKeyEntryName, roleEntryName, sameEntry, targetOf, type Location, type StateEntry } from './entries.js';
import type { PutOutcome, StateStore } from './state-store.js';

const TASK_FILE = /^(.+)\.json$/;
const KEY_FILE = /^([0-9a-f]{64})\.json$/;
const DOCUMENT_FILE = /^.+\.\d{1,9}\.md$/;
/** A parent moved between tasks/active/ and tasks/archive/ while it was looked for: look again, a few times. */
const FIND_ATTEMPTS = 5;

/**
 * The file store's state as entries. A snapshot reads each task file whole: files are only ever
 * replaced by an atomic rename, so each read is one complete version of the parent, never half of a
 * change. Its documents are read after it: a document is written before the change that names it, and
 * never rewritten once named, so every document the parent names is there.
 */
export class FileStateStore implements StateStore {
  readonly kind = 'file' as const;

  constructor(
    readonly layout: Layout,
    private readonly locks: LockManager,
    private readonly logger: Logger,
  ) {}

  get description(): string {
    return this.layout.root;
  }

  async snapshot(visit: (entry: StateEntry) => Promise<void>): Promise<void> {
    const roles = await readRoleFileSet(this.layout);
    for (const [name, text] of [...roles.files].sort(([a], [b]) => (a < b ? -1 : 1))) await visit({ name: roleEntryName(name), data: text });
    for (const id of await this.parentIds()) {
      const found = await this.findParent(id);
      if (!found) continue; // removed meanwhile
      for (const document of await this.documentsOf(id)) await visit(document);
      await visit({ name: parentEntryName(id, found.location), data: found.text });
    }
    for (const name of (await namesIn(this.layout.idempotencyDir)).filter((n) => KEY_FILE.test(n)).sort()) {
      const text = await readText(path.join(this.layout.idempotencyDir, name));
      if (text !== null) await visit({ name: planKeyEntryName(name.slice(0, -'.json'.length)), data: text });
    }
  }

  async put(entry: StateEntry, options: { force: boolean }): Promise<PutOutcome> {
    const target = targetOf(entry.name);
    switch (target.kind) {
      case 'parents_active':
      case 'parents_archived':
        return this.locks.withLock(target.parentTaskId, () => this.putParent(target.parentTaskId, target.location, entry.data, options.force));
      case 'documents':
        return putFile(path.join(this.layout.root, ...target.path.split('/')), entry, options.force);
      case 'role_files':
        return putFile(path.join(this.layout.rolesDir, ...target.roleName.split('/')), entry, options.force);
      case 'plan_keys':
        return putFile(path.join(this.layout.idempotencyDir, `${target.keySha256}.json`), entry, options.force);
    }
  }

  /**
   * A new tasks/ tree built beside the old one and swapped in (store/file/tasks-swap.ts). Refused while a
   * change is in progress (a live lock): servers that are idle read the new files on their next call.
   */
  async replaceAll(entries: () => AsyncIterable<StateEntry>, onStep?: (step: string) => void): Promise<void> {
    const held = liveLocks(this.layout);
    if (held.length) {
      throw new OrchestratorError('LOCK_TIMEOUT', `A change is in progress in ${this.layout.root} (${held.length} lock(s) held, for ${held.slice(0, 3).join(', ')}). Nothing was changed. Stop the servers of this project (or wait for the change to end), then run the restore again.`, { locks: held });
    }
    await replaceTasksTree(this.layout, this.logger, async (tree) => {
      for await (const entry of entries()) await writeStaged(tree, entry);
    }, onStep);
  }

  async close(): Promise<void> {
    this.locks.close();
  }

  /** Under the parent's lock: the task file in its folder, and never a second copy in the other folder. */
  private async putParent(id: string, location: Location, data: string, force: boolean): Promise<PutOutcome> {
    const file = this.taskFile(id, location);
    const other = this.taskFile(id, location === 'active' ? 'archive' : 'active');
    const [here, there] = [await readText(file), await readText(other)];
    if (here === null && there === null) {
      await createFileExclusive(file, data, { durable: true });
      this.noteInJournal(id);
      return 'copied';
    }
    if (here === data && there === null) return 'skipped';
    if (!force) return 'conflict';
    if (here !== data) await writeFileDurable(file, data);
    if (there !== null) {
      await unlink(other);
      await nodeFs.syncDir(path.dirname(other));
    }
    this.noteInJournal(id);
    return 'replaced';
  }

  private taskFile(id: string, location: Location): string {
    return path.join(location === 'active' ? this.layout.activeDir : this.layout.archiveDir, `${id}.json`);
  }

  private async parentIds(): Promise<string[]> {
    const ids = new Set<string>();
    for (const dir of [this.layout.activeDir, this.layout.archiveDir]) {
      for (const name of await namesIn(dir)) {
        const id = TASK_FILE.exec(name)?.[1];
        if (id && isValidTaskId(id)) ids.add(id);
      }
    }
    return [...ids].sort();
  }

  private async findParent(id: string): Promise<{ location: Location; text: string } | null> {
    for (let attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
      for (const location of ['active', 'archive'] as const) {
        const text = await readText(this.taskFile(id, location));
        if (text !== null) return { location, text };
      }
    }
    return null;
  }

  private async documentsOf(id: string): Promise<StateEntry[]> {
    const dir = path.join(this.layout.workDir, id);
    const out: StateEntry[] = [];
    for (const name of (await namesIn(dir)).filter((n) => DOCUMENT_FILE.test(n)).sort()) {
      const text = await readText(path.join(dir, name));
      if (text !== null) out.push({ name: documentEntryName(`tasks/work/${id}/${name}`), data: text });
    }
    return out;
  }

  /** Tells running servers at once (their rescan would find it within 30 s anyway). */
  private noteInJournal(id: string): void {
    try {
      const fd = openAppendNoFollow(this.layout.journalFile);
      try {
        writeSync(fd, `${id}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // only a hint: the servers' periodic rescan finds the file
    }
  }
}

/** One entry into the staging tree of a restore (synced as a whole before it is swapped in). */
async function writeStaged(tree: StagedTree, entry: StateEntry): Promise<void> {
  const target = targetOf(entry.name);
  const root = path.dirname(tree.tasksDir);
  const file =
    target.kind === 'documents' ? path.join(root, ...target.path.split('/'))
    : target.kind === 'role_files' ? path.join(tree.rolesDir, ...target.roleName.split('/'))
    : target.kind === 'plan_keys' ? path.join(tree.tasksDir, 'idempotency', `${target.keySha256}.json`)
    : path.join(tree.tasksDir, target.location, `${target.parentTaskId}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, entry.data, { flag: 'wx' });
}

/** Writes one file durably unless it is there; the same content is skipped, another left unless `force`. */
async function putFile(file: string, entry: StateEntry, force: boolean): Promise<PutOutcome> {
  const existing = await readText(file);
  if (existing !== null && sameEntry(entry.name, existing, entry.data)) return 'skipped';
  if (existing !== null && !force) return 'conflict';
  await makeFolder(path.dirname(file));
  if (existing === null) {
    try {
      await createFileExclusive(file, entry.data, { durable: true });
      return 'copied';
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
      return putFile(file, entry, force); // written by another process a moment ago: compare again
    }
  }
  await writeFileDurable(file, entry.data);
  return 'replaced';
}

/** A folder and, when it is new, its entry in its parent folder, durably. */
async function makeFolder(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first) await nodeFs.syncDir(path.dirname(first));
  if (first && first !== dir) await nodeFs.syncDir(path.dirname(dir));
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw error;
  }
}

/** A regular file's text (never through a link), null when there is none. */
async function readText(file: string): Promise<string | null> {
  try {
    return (await readRegularFile(file)).toString('utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return null;
    throw error;
  }
}

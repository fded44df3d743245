import type { Keyring } from '../safety/encryption.js';
import { lstat, mkdir, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseTaskFile } from '../domain/task-file.js';
import { corruptedDir, subjectOf, type Finding } from './doctor.js';
import { openBackup } from '../safety/backup-archive.js';
import { BACKUPS_FOLDER, listBackups } from '../safety/backup-rotation.js';
import { createFileExclusive, moveFileDurable, nodeFs, NotRegularFileError, readRegularFile, writeFileDurable } from '../store/file/durable-fs.js';
import type { FileTaskStore } from '../store/file/file-task-store.js';
import type { Layout } from '../store/file/layout.js';
import type { LockManager } from '../store/file/lock.js';
import { sweepTempFiles } from '../store/file/recovery.js';

export interface FixOutcome {
  kind: Finding['kind'];
  subject: string;
  /** Whether the repair was made (false: it was not needed any more, or it failed). */
  done: boolean;
  /** What was done, or why not. */
  action: string;
}

export interface RepairTools {
  store: FileTaskStore;
  layout: Layout;
  /** A lock manager with a short timeout, so a lock that a live process holds again is left alone quickly. */
  locks: LockManager;
  /** The keys of encryption at rest: encrypted backups are opened with them (none: they are passed over). */
  keyring: Keyring;
}

/**
 * Repairs what is safe: every step goes through the locks the servers use, re-checks the problem first,
 * and never deletes a task's data (corrupted files are moved aside with a report). Folders and the
 * built-in roles file were already created by opening the store.
 */
export async function repair(tools: RepairTools, findings: Finding[]): Promise<FixOutcome[]> {
  const outcomes: FixOutcome[] = [];
  const swept = findings.some((f) => f.kind === 'temp_file') ? new Set(await sweepTempFiles(tools.layout)) : new Set<string>();
  for (const f of findings.filter((x) => x.fixable)) {
    try {
      outcomes.push({ kind: f.kind, subject: f.subject, ...(await repairOne(tools, f, swept)) });
    } catch (error) {
      outcomes.push({ kind: f.kind, subject: f.subject, done: false, action: `not fixed: ${(error as Error).message}` });
    }
  }
  return outcomes;
}

async function repairOne(tools: RepairTools, f: Finding, swept: Set<string>): Promise<Omit<FixOutcome, 'kind' | 'subject'>> {
  switch (f.kind) {
    case 'missing_folder':
    case 'missing_default_roles':
      return (await stat(f.path).catch(() => null)) ? { done: true, action: 'created' } : { done: false, action: 'could not be created' };
    case 'corrupt_task_file':
    case 'not_a_regular_file':
      return setAside(tools, f);
    case 'unarchived_parent':
      return (await tools.store.archiveIfComplete(f.parent_task_id!)) ? { done: true, action: 'archived to tasks/archive/' } : { done: false, action: 'nothing to do any more (it changed meanwhile)' };
    case 'dead_lock':
    case 'stale_lock':
      return clearLock(tools.locks, path.basename(f.path, '.lock'));
    case 'takeover_marker':
      return removeIf(f.path, async () => {
        const observed = await tools.locks.observe(f.path).catch(() => null);
        return observed !== null && tools.locks.isMarkerDead(observed);
      });
    case 'temp_file':
      return swept.has(f.path) ? { done: true, action: 'removed' } : { done: false, action: 'gone already, or its writer is active again; left alone' };
    default:
      return { done: false, action: 'cannot be fixed automatically' };
  }
}

/**
 * Moves a corrupted task file to tasks/corrupted/, under the task's lock, with a report beside it. An
 * entry that is not a regular file (a named pipe, a link) is moved as it is, never opened.
 */
async function setAside(tools: RepairTools, f: Finding): Promise<Omit<FixOutcome, 'kind' | 'subject'>> {
  const id = f.parent_task_id;
  if (!id) return { done: false, action: 'cannot be fixed automatically' };
  return tools.store.locks.withLock(id, async () => {
    const text = await readRegularFile(f.path).then(
      (bytes) => bytes.toString('utf8'),
      (error: unknown) => (error instanceof NotRegularFileError ? error : null),
    );
    if (text === null) return { done: false, action: (await lstat(f.path).catch(() => null)) ? 'it cannot be read now; left in place' : 'it is gone already' };
    if (typeof text === 'string' && parseTaskFile(text).ok) return { done: false, action: 'it reads correctly now (fixed meanwhile); left in place' };
    const dir = corruptedDir(tools.layout);
    // The new folder's entry must reach the disk before the file moves into it, or power loss could lose it.
    if (await mkdir(dir, { recursive: true })) await nodeFs.syncDir(path.dirname(dir));
    const target = await freeName(dir, `${stamp()}-${path.basename(f.path)}`);
    await moveFileDurable(f.path, target);
    const report = `${target}.report.txt`;
    await writeFileDurable(report, setAsideReport(tools.layout, f, target));
    const movedAside = `moved to ${subjectOf(tools.layout, target)} (why: ${subjectOf(tools.layout, report)})`;
    const restored = f.kind === 'corrupt_task_file' ? await bringBackFromBackup(tools, id, f.path) : null;
    if (!restored) return { done: true, action: movedAside };
    return { done: true, action: `${movedAside}; brought back the copy in the backup ${path.basename(restored.file)} (taken ${restored.at})` };
  });
}

/**
 * Puts back the newest good copy of a task from the backups in .task_orchestrator/backups/ (each archive
 * verified first; encrypted ones without their key, and damaged ones, are passed over). The caller holds
 * the task's lock and has moved the corrupted file aside. Null when no backup holds a good copy.
 */
async function bringBackFromBackup(tools: RepairTools, id: string, file: string): Promise<{ file: string; at: string } | null> {
  for (const backup of await listBackups(path.join(tools.layout.root, BACKUPS_FOLDER))) {
    const verified = await openBackup(backup.file, tools.keyring).catch(() => null);
    if (!verified) continue;
    for await (const entry of verified.entries()) {
      if (entry.name !== `tasks/active/${id}.json` && entry.name !== `tasks/archive/${id}.json`) continue;
      const text = entry.data.toString('utf8');
      const parsed = parseTaskFile(text);
      if (!parsed.ok || parsed.value.parent_task_id !== id) continue;
      await createFileExclusive(file, text, { durable: true });
      return { file: backup.file, at: verified.manifest.created_at };
    }
  }
  return null;
}

function setAsideReport(layout: Layout, f: Finding, target: string): string {
  return [
    `task-orchestrator doctor set this file aside on ${new Date().toISOString()} (host ${os.hostname()}, pid ${process.pid}).`,
    '',
    `Original location: ${f.path}`,
    `Task id: ${f.parent_task_id}`,
    `Why: ${f.message}`,
    '',
    `The file is unchanged beside this report: ${path.basename(target)}`,
    'Its task is no longer listed by the server; every other task keeps working.',
    '',
    `To restore it: repair the JSON (or restore it from a backup), check that ${subjectOf(layout, f.path)} does`,
    'not exist again, and move the file back there. "task-orchestrator doctor" checks the result.',
    '',
  ].join('\n');
}

/** Clears a stale or dead lock the way a server takes it over: by acquiring it (only possible if still stale) and releasing it. */
async function clearLock(locks: LockManager, name: string): Promise<Omit<FixOutcome, 'kind' | 'subject'>> {
  try {
    await locks.withLock(name, async () => undefined);
    return { done: true, action: 'cleared' };
  } catch (error) {
    return { done: false, action: `left alone: ${(error as Error).message}` };
  }
}

async function removeIf(file: string, stillLeftover: () => Promise<boolean>): Promise<Omit<FixOutcome, 'kind' | 'subject'>> {
  if (!(await stillLeftover())) return { done: false, action: 'its writer is active again; left alone' };
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return { done: true, action: 'removed' };
}

async function freeName(dir: string, name: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, n === 1 ? name : `${name}.${n}`);
    if (!(await stat(candidate).catch(() => null))) return candidate;
  }
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../app/ports.js';
import { tempFileOwnerPid } from './durable-fs.js';
import type { FileTaskStore } from './file-task-store.js';
import type { Layout } from './layout.js';
import { isPidAlive } from './lock.js';

export interface RecoveryReport {
  /** Temp files of writers that are gone (a crash before their rename): removed. */
  removedTempFiles: string[];
  /** Completed parents found in tasks/active/ (a crash before the archive move, or Python-era files): archived. */
  archived: string[];
}

/** Temp files older than this are removed even if a process with their pid exists (pids are reused). */
export const TEMP_FILE_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * Finishes what a crashed process left half done. Idempotent, and safe while other processes run:
 * it removes only temp files whose writer is gone, and archives only under the parent's lock.
 */
export async function recover(store: FileTaskStore, layout: Layout, logger: Logger): Promise<RecoveryReport> {
  const removedTempFiles = await sweepTempFiles(layout);
  const removedSpareLocks = store.locks.sweepSpares();
  if (removedSpareLocks.length) logger.info('Removed the spare lock files of processes that are gone', { files: removedSpareLocks });
  const archived: string[] = [];
  for (const summary of store.catalog.summaries(false)) {
    if (summary.status !== 'completed') continue;
    try {
      if (await store.archiveIfComplete(summary.parent_task_id)) archived.push(summary.parent_task_id);
    } catch (error) {
      logger.warn(`Could not archive completed task ${summary.parent_task_id}: ${(error as Error).message}`);
    }
  }
  if (removedTempFiles.length || archived.length) logger.info('Recovery finished interrupted work', { removedTempFiles, archived });
  return { removedTempFiles, archived };
}

export interface TempFile {
  file: string;
  /** The pid of the process that was writing it. */
  pid: number;
  ageMs: number;
}

/** Temp files of durable writes (named by tempPathFor) in every folder that gets them. */
export async function findTempFiles(layout: Layout): Promise<TempFile[]> {
  const found: TempFile[] = [];
  const workFolders = (await readdir(layout.workDir).catch(() => [] as string[])).map((name) => path.join(layout.workDir, name));
  // tasks/ itself holds the temp files of the index cache and of journal rotations.
  const tasksDir = path.dirname(layout.activeDir);
  for (const dir of [layout.activeDir, layout.archiveDir, layout.locksDir, layout.rolesDir, layout.templatesDir, tasksDir, ...workFolders]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const pid = tempFileOwnerPid(name);
      if (pid === null) continue;
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => null);
      if (info) found.push({ file, pid, ageMs: Date.now() - info.mtimeMs });
    }
  }
  return found;
}

/** A temp file is left over when its writer is gone, or it is older than any write takes (pids are reused). */
export function isLeftover(temp: TempFile): boolean {
  return temp.pid !== process.pid && (!isPidAlive(temp.pid) || temp.ageMs > TEMP_FILE_MAX_AGE_MS);
}

export async function sweepTempFiles(layout: Layout): Promise<string[]> {
  const removed: string[] = [];
  for (const temp of (await findTempFiles(layout)).filter(isLeftover)) {
    await unlink(temp.file).then(
      () => removed.push(temp.file),
      () => undefined,
    );
  }
  return removed;
}

import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../app/ports.js';
import type { FileTaskStore } from './file-task-store.js';
import type { Layout } from './layout.js';
import { fileSystemNow, judgeTempWriter, tempWriterOf, type Liveness, type TempWriter } from './owner.js';

export interface RecoveryReport {
  /** Temp files of writers that are gone (a crash before their rename): removed. */
  removedTempFiles: string[];
  /** Completed parents found in tasks/active/ (a crash before the archive move, or Python-era files): archived. */
  archived: string[];
}

/**
 * Temp files older than this are removed even if a process with their pid exists (pids are reused), or
 * when their writer cannot be seen from here (another host, boot or PID namespace): a write takes
 * milliseconds, so no writer that runs keeps a temp file this long.
 */
export const TEMP_FILE_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * Finishes what a crashed process left half done. Idempotent, and safe while other processes run:
 * it removes only temp files whose writer is gone, and archives only under the parent's lock.
 */
export async function recover(store: FileTaskStore, layout: Layout, logger: Logger): Promise<RecoveryReport> {
  const removedTempFiles = await sweepTempFiles(layout);
  const archived = await archiveCompletedParents(store, logger);
  if (removedTempFiles.length || archived.length) logger.info('Recovery finished interrupted work', { removedTempFiles, archived });
  return { removedTempFiles, archived };
}

/** Archives every parent the index knows as completed but still in tasks/active/; returns their ids. */
export async function archiveCompletedParents(store: FileTaskStore, logger: Logger): Promise<string[]> {
  const archived: string[] = [];
  for (const summary of store.catalog.summaries(false)) {
    if (summary.status !== 'completed') continue;
    try {
      if (await store.archiveIfComplete(summary.parent_task_id)) archived.push(summary.parent_task_id);
    } catch (error) {
      logger.warn(`Could not archive completed task ${summary.parent_task_id}: ${(error as Error).message}`);
    }
  }
  return archived;
}

export interface TempFile {
  file: string;
  /** The pid of the process that was writing it. */
  pid: number;
  writer: TempWriter;
  /** Whether that writer still runs, by the one liveness rule (owner.ts). */
  liveness: Liveness;
  /** On the file system's clock: its mtime against a file created now. */
  ageMs: number;
}

/** Temp files of durable writes (named by tempPathFor) in every folder that gets them. */
export async function findTempFiles(layout: Layout): Promise<TempFile[]> {
  const found: TempFile[] = [];
  const now = fileSystemNowOr(layout.locksDir);
  const workFolders = (await readdir(layout.workDir).catch(() => [] as string[])).map((name) => path.join(layout.workDir, name));
  // tasks/ itself holds the temp files of the index cache and of journal rotations.
  const tasksDir = path.dirname(layout.activeDir);
  for (const dir of [layout.activeDir, layout.archiveDir, layout.locksDir, layout.rolesDir, layout.templatesDir, tasksDir, ...workFolders]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const writer = tempWriterOf(name);
      if (writer === null) continue;
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => null);
      if (info) found.push({ file, pid: writer.pid, writer, liveness: judgeTempWriter(writer), ageMs: now - info.mtimeMs });
    }
  }
  return found;
}

/**
 * A temp file is left over when its writer is gone, or it is older than any write takes (pids are
 * reused; a writer in another namespace cannot be asked).
 */
export function isLeftover(temp: TempFile): boolean {
  return temp.liveness === 'dead' || temp.ageMs > TEMP_FILE_MAX_AGE_MS;
}

/** The file system's clock; this process's own where nothing can be created (a read-only folder, for doctor). */
function fileSystemNowOr(dir: string): number {
  try {
    return fileSystemNow(dir);
  } catch {
    return Date.now();
  }
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

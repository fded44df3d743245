import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { backupFileName, backupsNewestFirst, chooseBackupsToDelete, type BackupName } from '../domain/backup-names.js';
import { isCode, nodeFs, type DurableFs } from '../store/file/durable-fs.js';
import { judgeTempWriter, tempWriterOf } from '../store/file/owner.js';

/** The folder of automatic backups, inside .task_orchestrator/. */
export const BACKUPS_FOLDER = 'backups';

/** A path for a new backup in `dir`, named by time (domain/backup-names.ts). */
export function newBackupPath(dir: string, at: Date, options: { encrypted: boolean; reason?: string | null }): string {
  return path.join(dir, backupFileName(at, randomBytes(4).toString('hex'), options));
}

export interface BackupFile extends BackupName {
  file: string;
  bytes: number;
}

/** The backups in `dir`, newest first; regular files with a backup's name only. A missing folder has none. */
export async function listBackups(dir: string): Promise<BackupFile[]> {
  const names = await regularFileNames(dir);
  const out: BackupFile[] = [];
  for (const backup of backupsNewestFirst(names)) {
    const info = await stat(path.join(dir, backup.name)).catch(() => null);
    if (info) out.push({ ...backup, file: path.join(dir, backup.name), bytes: info.size });
  }
  return out;
}

/**
 * Keeps the newest `keep` backups in `dir` and deletes the others, oldest first; returns the names
 * deleted. Only regular files named as backups are candidates: links, folders and every other name are
 * left alone. A file another process deleted meanwhile is fine.
 */
export async function pruneBackups(dir: string, keep: number, fs: DurableFs = nodeFs): Promise<string[]> {
  const doomed = chooseBackupsToDelete(await regularFileNames(dir), keep);
  const deleted: string[] = [];
  for (const name of doomed) {
    try {
      await fs.unlink(path.join(dir, name));
      deleted.push(name);
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    }
  }
  if (deleted.length) await fs.syncDir(dir);
  return deleted;
}

/**
 * Removes what backup writers that no longer run left in `dir` (their spool and temp files, named
 * ".backup-...tmp" after the backup they were writing); a writer that still runs, or whose liveness
 * cannot be told from here (another host), keeps its files. Returns the names removed.
 */
export async function sweepBackupTemps(dir: string, fs: DurableFs = nodeFs): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await regularFileNames(dir)) {
    if (!name.startsWith('.backup-')) continue;
    const writer = tempWriterOf(name);
    if (!writer || judgeTempWriter(writer) !== 'dead') continue;
    try {
      await fs.unlink(path.join(dir, name));
      removed.push(name);
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    }
  }
  return removed;
}

async function regularFileNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw error;
  }
}

import type { Keyring } from '../safety/encryption.js';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, TaskStore } from '../app/ports.js';
import { chooseParentsToPrune, type PruneChoice, type RetentionPolicy } from '../domain/retention.js';
import type { BackupResult } from '../safety/backup-archive.js';
import { BackupWriter } from '../safety/backup-archive.js';
import type { Layout } from '../store/file/layout.js';
import { backupsDir } from './backup.js';
import { targetOf } from './entries.js';
import type { StateStore } from './state-store.js';

/** One line per retention run that pruned something, newest last: what doctor reports. */
export const RETENTION_LOG = 'retention-log.jsonl';

export interface PruneOutcome {
  chosen: PruneChoice[];
  /** The ids deleted (a parent reopened meanwhile is kept). */
  removed: string[];
  /** The archive holding every chosen parent, written before anything was deleted; null with dryRun or nothing to prune. */
  backup: BackupResult | null;
}

export interface RetentionRecord {
  at: string;
  pruned: number;
  backup: string;
  parent_task_ids: string[];
}

/**
 * Applies the retention policy: the archived parents it chooses (domain/retention.ts) are written into a
 * backup of their own first (pruned-<time>-<hex>.tar.gz in .task_orchestrator/backups/, never rotated
 * away), then deleted (TaskStore.removeArchived), then the run is logged and recorded for doctor.
 */
export async function pruneArchive(parts: { store: TaskStore; state: StateStore; layout: Layout; logger: Logger; keyring: Keyring }, policy: RetentionPolicy, options: { dryRun: boolean; now?: Date }): Promise<PruneOutcome> {
  const now = options.now ?? new Date();
  const summaries = await parts.store.list({ includeArchived: true });
  const chosen = chooseParentsToPrune(summaries, policy, now);
  if (options.dryRun || chosen.length === 0) return { chosen, removed: [], backup: null };
  const ids = new Set(chosen.map((c) => c.parent_task_id));
  const backup = await backupOf(parts.state, ids, parts.layout, now, parts.keyring);
  const held = countParents(backup, ids);
  if (held !== ids.size) throw new Error(`The backup ${backup.file} holds ${held} of the ${ids.size} parents to prune; nothing was pruned.`);
  const removed = await parts.store.removeArchived([...ids]);
  const record: RetentionRecord = { at: now.toISOString(), pruned: removed.length, backup: backup.file, parent_task_ids: removed };
  await mkdir(backupsDir(parts.layout), { recursive: true, mode: 0o700 });
  await appendFile(path.join(backupsDir(parts.layout), RETENTION_LOG), `${JSON.stringify(record)}\n`);
  parts.logger.info(`Retention pruned ${removed.length} archived parent(s); they are in the backup ${backup.file}`, { parent_task_ids: removed, backup: backup.file });
  return { chosen, removed, backup };
}

/** The newest retention record of a project, or null. */
export async function lastRetentionRecord(layout: Layout): Promise<RetentionRecord | null> {
  const text = await readFile(path.join(backupsDir(layout), RETENTION_LOG), 'utf8').catch(() => '');
  const last = text.trim().split('\n').filter(Boolean).at(-1);
  if (!last) return null;
  try {
    return JSON.parse(last) as RetentionRecord;
  } catch {
    return null;
  }
}

/** A backup holding only the chosen parents and their documents, from one snapshot. */
async function backupOf(state: StateStore, ids: ReadonlySet<string>, layout: Layout, now: Date, keyring: Keyring): Promise<BackupResult> {
  const dir = backupsDir(layout);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `pruned-${now.toISOString().replace(/[-:]/g, '')}-${randomBytes(4).toString('hex')}.tar.gz${keyring.current ? '.enc' : ''}`);
  const writer = await BackupWriter.create({ file, source: { store: state.kind, description: state.description }, createdAt: now, key: keyring.current });
  try {
    await state.snapshot(async (entry) => {
      const target = targetOf(entry.name);
      const owner = target.kind === 'documents' || target.kind === 'parents_active' || target.kind === 'parents_archived' ? target.parentTaskId : null;
      if (owner !== null && ids.has(owner)) await writer.add(entry.name, entry.data);
    });
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.finish();
}

function countParents(backup: BackupResult, ids: ReadonlySet<string>): number {
  return backup.manifest.entries.filter((e) => {
    const target = targetOf(e.name);
    return target.kind === 'parents_archived' && ids.has(target.parentTaskId);
  }).length;
}

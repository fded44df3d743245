import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BackupWriter, openBackup, type BackupResult, type VerifiedBackup } from '../safety/backup-archive.js';
import { BACKUPS_FOLDER, newBackupPath, pruneBackups } from '../safety/backup-rotation.js';
import type { Keyring } from '../safety/encryption.js';
import type { Layout } from '../store/file/layout.js';
import { targetOf, type StateEntry } from './entries.js';
import type { StateStore } from './state-store.js';

/**
 * Writes one archive of a store's whole state: one snapshot (StateStore.snapshot), streamed into the
 * archive. With a key configured (encryption at rest) the archive is encrypted with the current key.
 */
export async function backupState(store: StateStore, file: string, options: { keyring: Keyring; createdAt?: Date }): Promise<BackupResult> {
  const writer = await BackupWriter.create({ file, source: { store: store.kind, description: store.description }, createdAt: options.createdAt ?? new Date(), key: options.keyring.current });
  try {
    await store.snapshot((entry) => writer.add(entry.name, entry.data));
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.finish();
}

/** The folder of automatic backups of a project (.task_orchestrator/backups/). */
export function backupsDir(layout: Layout): string {
  return path.join(layout.root, BACKUPS_FOLDER);
}

/** A backup into .task_orchestrator/backups/ named by time (and why), then the oldest beyond `keep` deleted. */
export async function automaticBackup(store: StateStore, layout: Layout, options: { reason: string | null; keep: number; keyring: Keyring }): Promise<BackupResult> {
  const dir = backupsDir(layout);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const now = new Date();
  const result = await backupState(store, newBackupPath(dir, now, { encrypted: options.keyring.current !== null, reason: options.reason }), { keyring: options.keyring, createdAt: now });
  await pruneBackups(dir, options.keep);
  return result;
}

/** What a restore changes, by parent id: those only in the archive, those that differ, those only in the store now. */
export interface RestorePlan {
  added: string[];
  replaced: string[];
  removed: string[];
  unchanged: number;
}

/** Compares the parents of a verified archive with the store's (by location and SHA-256 of the task file), reading the store once. */
export async function planRestore(store: StateStore, backup: VerifiedBackup): Promise<RestorePlan> {
  const current: { name: string; sha256: string }[] = [];
  await store.snapshot(async (entry) => void current.push({ name: entry.name, sha256: createHash('sha256').update(entry.data).digest('hex') }));
  return comparePlans(backup.manifest.entries, current);
}

/** Each parent of a list of entries as "<location>:<sha256 of its task file>", by id. */
function parentVersions(entries: readonly { name: string; sha256: string }[]): Map<string, string> {
  const versions = new Map<string, string>();
  for (const entry of entries) {
    const target = targetOf(entry.name);
    if (target.kind === 'parents_active' || target.kind === 'parents_archived') versions.set(target.parentTaskId, `${target.location}:${entry.sha256}`);
  }
  return versions;
}

/** What replacing the `current` entries by the `incoming` ones does to the parents. */
function comparePlans(incomingEntries: readonly { name: string; sha256: string }[], currentEntries: readonly { name: string; sha256: string }[]): RestorePlan {
  const incoming = parentVersions(incomingEntries);
  const current = parentVersions(currentEntries);
  const plan: RestorePlan = { added: [], replaced: [], removed: [], unchanged: 0 };
  for (const [id, version] of incoming) {
    const now = current.get(id);
    if (now === undefined) plan.added.push(id);
    else if (now !== version) plan.replaced.push(id);
    else plan.unchanged++;
  }
  for (const id of current.keys()) if (!incoming.has(id)) plan.removed.push(id);
  for (const list of [plan.added, plan.replaced, plan.removed]) list.sort();
  return plan;
}

export interface RestoreOutcome {
  plan: RestorePlan;
  /** The backup of the state before the restore (null with dryRun). */
  before: BackupResult | null;
}

/**
 * Restores an archive: every checksum verified first (a damaged or foreign archive is refused with
 * nothing changed), then the current state backed up into .task_orchestrator/backups/, then the state
 * replaced at once (StateStore.replaceAll). With dryRun only the plan.
 */
export async function restoreState(store: StateStore, file: string, options: { layout: Layout; keep: number; dryRun: boolean; keyring: Keyring; onStep?: (step: string) => void }): Promise<RestoreOutcome> {
  const backup = await openBackup(file, options.keyring);
  if (options.dryRun) return { plan: await planRestore(store, backup), before: null };
  const before = await automaticBackup(store, options.layout, { reason: 'before-restore', keep: options.keep, keyring: options.keyring });
  // The backup just taken holds the state being replaced, with a SHA-256 per entry: the plan needs no second read of the store.
  const plan = comparePlans(backup.manifest.entries, before.manifest.entries);
  await store.replaceAll(() => entriesOf(backup), options.onStep);
  return { plan, before };
}

async function* entriesOf(backup: VerifiedBackup): AsyncGenerator<StateEntry> {
  for await (const entry of backup.entries()) yield { name: entry.name, data: entry.data.toString('utf8') };
}

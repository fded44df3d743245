import { emptyCounts, entryKindOf, type BackupCounts, type EntryKind } from '../domain/backup-manifest.js';
import { OrchestratorError } from '../domain/errors.js';
import type { StateEntry } from './entries.js';
import type { PutOutcome, StateStore } from './state-store.js';

/** What a copy did, per kind of entry (parents_active, parents_archived, documents, role_files, plan_keys). */
export interface TransferReport {
  found: BackupCounts;
  copied: BackupCounts;
  skipped: BackupCounts;
  /** Entries present in the target with other content, left as they are (without --force). */
  conflicts: BackupCounts;
  /** Replaced by --force. */
  replaced: BackupCounts;
  /** Entries the target refused (a task file that does not parse, say), with why. */
  failed: { name: string; reason: string }[];
  /** The names of the conflicts, for the person to compare. */
  conflictNames: string[];
}

export function emptyReport(): TransferReport {
  return { found: emptyCounts(), copied: emptyCounts(), skipped: emptyCounts(), conflicts: emptyCounts(), replaced: emptyCounts(), failed: [], conflictNames: [] };
}

/**
 * Copies every entry of `from` (one snapshot) into `to`, each written durably on its own, so that a
 * copy killed at any point is finished by running it again: what is there with the same content is
 * skipped. Within a parent, its documents go first, so a parent never names a document not yet copied.
 */
export async function copyState(from: StateStore, to: StateStore, options: { force: boolean }): Promise<TransferReport> {
  const report = emptyReport();
  await from.snapshot(async (entry) => noteOutcome(report, entry, await putOrFail(to, entry, options.force, report)));
  return report;
}

async function putOrFail(to: StateStore, entry: StateEntry, force: boolean, report: TransferReport): Promise<PutOutcome | null> {
  try {
    return await to.put(entry, { force });
  } catch (error) {
    // A refusal of this one entry (bad content); anything else (the disk, the database) stops the copy.
    if (!(error instanceof OrchestratorError) || error.code !== 'INVALID_INPUT') throw error;
    report.failed.push({ name: entry.name, reason: error.message });
    return null;
  }
}

function noteOutcome(report: TransferReport, entry: StateEntry, outcome: PutOutcome | null): void {
  const kind = kindOf(entry.name);
  report.found[kind]++;
  if (outcome === null) return;
  const counts = { copied: report.copied, skipped: report.skipped, conflict: report.conflicts, replaced: report.replaced }[outcome];
  counts[kind]++;
  if (outcome === 'conflict') report.conflictNames.push(entry.name);
}

function kindOf(name: string): EntryKind {
  const kind = entryKindOf(name);
  if (!kind.ok) throw new OrchestratorError('INVALID_INPUT', kind.message);
  return kind.value;
}

export function total(counts: BackupCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

import { ENTRY_KINDS, type BackupCounts } from '../../domain/backup-manifest.js';
import { FileLogger } from '../../logging/logger.js';
import { databaseUrlProblem } from '../../store/postgres/database-url.js';
import { automaticBackup } from '../../transfer/backup.js';
import { readSafetySettings } from '../../safety/settings.js';
import { copyState, total, type TransferReport } from '../../transfer/copy.js';
import { openFileState, openPostgresState } from '../../transfer/open-state.js';
import type { StateStore } from '../../transfer/state-store.js';
import { printable } from '../format.js';
import { EXIT, layoutOf, print, printJson, UsageError, warn, type BaseOptions } from '../run.js';

export interface MigrateStoreOptions extends BaseOptions {
  toPostgres?: string;
  fromPostgres?: string;
  force?: boolean;
  json?: boolean;
}

const KIND_LABELS: Record<keyof BackupCounts, string> = { parents_active: 'active parents', parents_archived: 'archived parents', documents: 'documents', role_files: 'role files', plan_keys: 'plan keys' };

/**
 * `task-orchestrator migrate --to-postgres URL` (the project's files into the database) and
 * `migrate --from-postgres URL` (the database into the project's files). Each entry is written on its
 * own, durably, so a killed run is finished by running it again; what is there already with the same
 * content is skipped, with other content reported as a conflict and left (or replaced with --force).
 */
export async function migrateStore(options: MigrateStoreOptions): Promise<number> {
  const url = options.toPostgres ?? options.fromPostgres;
  if (!url || (options.toPostgres && options.fromPostgres)) throw new UsageError('use one of --to-postgres URL and --from-postgres URL');
  const problem = databaseUrlProblem(url);
  if (problem) throw new UsageError(`${options.toPostgres ? '--to-postgres' : '--from-postgres'}: ${problem}`);
  const { settings, layout } = layoutOf({ baseDir: options.baseDir });
  const logger = new FileLogger({ level: settings.logLevel, stderr: false });
  const stores: StateStore[] = [];
  try {
    const files = await openFileState(layout, settings, logger);
    stores.push(files);
    const database = await openPostgresState(url, settings, logger);
    stores.push(database);
    const [from, to] = options.toPostgres ? [files, database] : [database, files];
    // What the target held before, kept in case the copy was not what was meant (--force replaces entries).
    const before = await automaticBackup(to, layout, { reason: 'before-migrate', keep: readSafetySettings(layout.root).backup.keep, keyring: settings.keyring });
    if (!options.json) print(`The target's state before the copy is in ${printable(before.file)}.`);
    const report = await copyState(from, to, { force: options.force === true });
    if (options.json) printJson({ from: from.description, to: to.description, ...report });
    else printReport(report, from.description, to.description);
    return report.failed.length || total(report.conflicts) ? EXIT.PROBLEMS : EXIT.OK;
  } finally {
    for (const store of stores.reverse()) await store.close().catch(() => {});
    await logger.close();
  }
}

function printReport(report: TransferReport, from: string, to: string): void {
  print(`Copied from ${printable(from)} to ${printable(to)}:`);
  for (const kind of ENTRY_KINDS) {
    const line = `  ${KIND_LABELS[kind].padEnd(17)} ${String(report.found[kind]).padStart(6)} found, ${report.copied[kind]} new, ${report.skipped[kind]} already there`;
    const extra = [report.conflicts[kind] ? `${report.conflicts[kind]} conflicts` : '', report.replaced[kind] ? `${report.replaced[kind]} replaced` : ''].filter(Boolean).join(', ');
    print(extra ? `${line}, ${extra}` : line);
  }
  for (const name of report.conflictNames) warn(`conflict: ${printable(name)} is already in ${printable(to)} with other content; left as it is (compare them, then run again with --force to replace it)`);
  for (const f of report.failed) warn(`not copied: ${printable(f.name)}: ${printable(f.reason)}`);
  print(`${total(report.copied)} new, ${total(report.skipped)} already there, ${total(report.conflicts)} conflicts, ${total(report.replaced)} replaced.`);
}

/**
 * Names of the backups kept in .task_orchestrator/backups/: `backup-<UTC time>-<8 hex>.tar.gz`
 * (`.tar.gz.enc` when encrypted), optionally with a reason after the time
 * (`backup-20261201T160000.000Z-before-restore-1a2b3c4d.tar.gz`). The time is fixed-width, so names sort
 * by time; the random part keeps two backups of the same millisecond apart. Rotation touches only names
 * of this shape: anything else a person put in the folder is never deleted.
 */

const PATTERN = /^backup-(\d{8}T\d{6}\.\d{3}Z)(?:-([a-z][a-z-]{0,30}[a-z]))?-([0-9a-f]{8})\.tar\.gz(\.enc)?$/;
const REASON = /^[a-z][a-z-]{0,30}[a-z]$/;

export interface BackupName {
  name: string;
  /** The time in the name (UTC, to the millisecond). */
  at: Date;
  /** Why it was taken ("before-restore"), null for a scheduled or manual one. */
  reason: string | null;
  encrypted: boolean;
}

/** The name for a backup taken at `at`; `random` is 8 hex digits, `reason` lowercase words joined by "-". */
export function backupFileName(at: Date, random: string, options: { encrypted: boolean; reason?: string | null }): string {
  if (!/^[0-9a-f]{8}$/.test(random)) throw new RangeError(`backupFileName: random must be 8 hex digits, got ${JSON.stringify(random)}`);
  if (options.reason && !REASON.test(options.reason)) throw new RangeError(`backupFileName: reason must be lowercase words joined by "-", got ${JSON.stringify(options.reason)}`);
  const time = at.toISOString().replace(/[-:]/g, '');
  return `backup-${time}${options.reason ? `-${options.reason}` : ''}-${random}.tar.gz${options.encrypted ? '.enc' : ''}`;
}

/** What a name says, or null for a name that is not a backup's. */
export function parseBackupName(name: string): BackupName | null {
  const match = PATTERN.exec(name);
  if (!match) return null;
  const [, time, reason, , encrypted] = match as unknown as [string, string, string | undefined, string, string | undefined];
  const iso = `${time.slice(0, 4)}-${time.slice(4, 6)}-${time.slice(6, 11)}:${time.slice(11, 13)}:${time.slice(13)}`;
  const at = new Date(iso);
  if (Number.isNaN(at.getTime()) || at.toISOString() !== iso) return null;
  return { name, at, reason: reason ?? null, encrypted: encrypted !== undefined };
}

/** Backups among `names`, newest first (ties: by name, so the order is the same everywhere). */
export function backupsNewestFirst(names: readonly string[]): BackupName[] {
  return names
    .map(parseBackupName)
    .filter((b): b is BackupName => b !== null)
    .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

/** Which backups to delete to keep the newest `keep`, oldest first. Names that are not backups are never chosen. */
export function chooseBackupsToDelete(names: readonly string[], keep: number): string[] {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`chooseBackupsToDelete: keep must be a whole number of at least 1, got ${keep}`);
  return backupsNewestFirst(names)
    .slice(keep)
    .map((b) => b.name)
    .reverse();
}

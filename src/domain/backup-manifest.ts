import { fail, ok, type Check } from './errors.js';

/**
 * What a backup archive holds (src/safety/backup-archive.ts writes and reads it): its first entry,
 * manifest.json, describes every other entry, which must then come in the same order, each with the
 * size and SHA-256 given here. Entry names say what an entry is:
 *
 *   tasks/active/<parent id>.json     a parent in tasks/active/ (its task file as stored)
 *   tasks/archive/<parent id>.json    an archived parent
 *   documents/<path>                  a detailed-work document (path as the subtask names it)
 *   roles/<path>                      a role file or template (path inside the roles folder)
 *   plan-keys/<sha256>.json           a plan_task idempotency record
 *
 * Names are relative, with "/" only, no empty, "." or ".." segment, no backslash or control character:
 * an archive from elsewhere can name nothing outside the place it is restored into.
 */

export const MANIFEST_NAME = 'manifest.json';
export const BACKUP_FORMAT = 'task-orchestrator-backup';
export const BACKUP_FORMAT_VERSION = 1;

export const ENTRY_KINDS = ['parents_active', 'parents_archived', 'documents', 'role_files', 'plan_keys'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];
export type BackupCounts = Record<EntryKind, number>;

export interface ManifestEntry {
  name: string;
  size: number;
  /** Hex SHA-256 of the entry's bytes. */
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  format_version: number;
  /** ISO time the snapshot was taken. */
  created_at: string;
  /** "task-orchestrator <version>". */
  generator: string;
  /** The store it was taken from: its kind ("file", "postgres") and a description for people (folder, database). */
  source: { store: string; description: string };
  counts: BackupCounts;
  entries: ManifestEntry[];
}

/** Longest entry name accepted: room for any document path, short enough to never strain a file system. */
export const MAX_NAME_BYTES = 1024;
const SINGLE_JSON = /^[^/]+\.json$/;
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/;

/** What an entry name stands for, or why it is refused. */
export function entryKindOf(name: string): Check<EntryKind> {
  const problem = nameProblem(name);
  if (problem) return fail('BACKUP_INVALID', `entry ${JSON.stringify(name.slice(0, 200))} ${problem}`);
  const [top, ...rest] = name.split('/');
  const tail = rest.join('/');
  if (top === 'tasks' && rest[0] === 'active' && SINGLE_JSON.test(rest.slice(1).join('/'))) return ok('parents_active');
  if (top === 'tasks' && rest[0] === 'archive' && SINGLE_JSON.test(rest.slice(1).join('/'))) return ok('parents_archived');
  if (top === 'documents' && tail) return ok('documents');
  if (top === 'roles' && tail) return ok('role_files');
  if (top === 'plan-keys' && SINGLE_JSON.test(tail)) return ok('plan_keys');
  return fail('BACKUP_INVALID', `entry ${JSON.stringify(name.slice(0, 200))} is not one a backup holds (tasks/active/<id>.json, tasks/archive/<id>.json, documents/..., roles/..., plan-keys/<key>.json)`);
}

function nameProblem(name: string): string | null {
  if (!name) return 'has an empty name';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `has a name longer than ${MAX_NAME_BYTES} bytes`;
  if (FORBIDDEN.test(name)) return 'has a backslash or a control character in its name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'has an absolute name';
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." part in its name';
  return null;
}

export function emptyCounts(): BackupCounts {
  return { parents_active: 0, parents_archived: 0, documents: 0, role_files: 0, plan_keys: 0 };
}

/**
 * The manifest of an archive, checked: format and version ours, every entry well named, listed once,
 * with a size and a SHA-256, and counts that add up. A newer format version is UNSUPPORTED_VERSION.
 */
export function checkManifest(json: unknown): Check<BackupManifest> {
  if (!isObject(json)) return fail('BACKUP_INVALID', 'its manifest is not a JSON object');
  if (json.format !== BACKUP_FORMAT) return fail('BACKUP_INVALID', `its manifest names the format ${JSON.stringify(String(json.format).slice(0, 60))}, not ${BACKUP_FORMAT}: it is not a backup of task-orchestrator`);
  if (!Number.isInteger(json.format_version) || (json.format_version as number) < 1) return fail('BACKUP_INVALID', 'its manifest has no valid format_version');
  if ((json.format_version as number) > BACKUP_FORMAT_VERSION) {
    return fail('UNSUPPORTED_VERSION', `it is in backup format version ${json.format_version}, newer than this version of task-orchestrator reads (${BACKUP_FORMAT_VERSION}); upgrade task-orchestrator to use it`, { format_version: json.format_version });
  }
  const problem = fieldsProblem(json) ?? entriesProblem(json.entries) ?? countsProblem(json.counts, json.entries as ManifestEntry[]);
  return problem ? fail('BACKUP_INVALID', `its manifest ${problem}`) : ok(json as unknown as BackupManifest);
}

function fieldsProblem(json: Record<string, unknown>): string | null {
  if (typeof json.created_at !== 'string' || Number.isNaN(Date.parse(json.created_at))) return 'has no valid created_at';
  if (typeof json.generator !== 'string') return 'has no generator';
  const source = json.source;
  if (!isObject(source) || typeof source.store !== 'string' || typeof source.description !== 'string') return 'has no source {store, description}';
  return null;
}

function entriesProblem(entries: unknown): string | null {
  if (!Array.isArray(entries)) return 'has no list of entries';
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    if (!isObject(entry) || typeof entry.name !== 'string' || !Number.isSafeInteger(entry.size) || (entry.size as number) < 0 || typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      return `entry ${i} is not {name, size, sha256}`;
    }
    const kind = entryKindOf(entry.name);
    if (!kind.ok) return `lists a bad entry: ${kind.message}`;
    if (seen.has(entry.name)) return `lists ${JSON.stringify(entry.name)} twice`;
    seen.add(entry.name);
  }
  return null;
}

function countsProblem(counts: unknown, entries: ManifestEntry[]): string | null {
  if (!isObject(counts)) return 'has no counts';
  const actual = countsOf(entries.map((e) => e.name));
  for (const kind of ENTRY_KINDS) {
    if (counts[kind] !== actual[kind]) return `counts ${String(counts[kind])} ${kind} but lists ${actual[kind]}`;
  }
  return null;
}

/** How many entries of each kind the names stand for (names assumed valid). */
export function countsOf(names: readonly string[]): BackupCounts {
  const counts = emptyCounts();
  for (const name of names) {
    const kind = entryKindOf(name);
    if (kind.ok) counts[kind.value]++;
  }
  return counts;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

import { constants } from 'node:fs';
import { access, lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { lastRetentionRecord } from '../transfer/retention-run.js';
import { isParentComplete } from '../domain/lifecycle.js';
import { parseTaskFile } from '../domain/task-file.js';
import { problemWith } from '../store/file/catalog.js';
import { describeFileType, isDirectory, NotRegularFileError, readRegularFile } from '../store/file/durable-fs.js';
import type { Layout } from '../store/file/layout.js';
import { defaultLockOptions, isSpareLockFile, LockManager } from '../store/file/lock.js';
import { findTempFiles, isLeftover, type TempFile } from '../store/file/recovery.js';
import { DEFAULT_ROLES_FILE, loadRoleCatalog } from '../roles/role-files.js';

export type FindingKind =
  | 'no_store'
  | 'retention_pruned'
  | 'missing_folder'
  | 'not_a_folder'
  | 'not_writable'
  | 'missing_default_roles'
  | 'corrupt_task_file'
  | 'unsupported_task_file'
  | 'misplaced_task_file'
  | 'duplicate_task_file'
  | 'unarchived_parent'
  | 'set_aside_files'
  | 'role_file_error'
  | 'not_a_regular_file'
  | 'unreadable_lock'
  | 'dead_lock'
  | 'stale_lock'
  | 'held_lock'
  | 'takeover_marker'
  | 'temp_file'
  | 'temp_file_in_use';

/** One thing doctor found: problems make it exit 1 until fixed; notes are for information. */
export interface Finding {
  kind: FindingKind;
  severity: 'problem' | 'note';
  /** The file or folder concerned, relative to .task_orchestrator/ when inside it. */
  subject: string;
  /** Its absolute path. */
  path: string;
  /** What is wrong, with the values involved. */
  message: string;
  /** What it means for the user and the server. */
  meaning: string;
  /** What "doctor --fix" does about it, or what to do by hand. */
  remedy: string;
  /** Whether "doctor --fix" repairs it. */
  fixable: boolean;
  parent_task_id?: string;
}

export interface DiagnoseOptions {
  /** The same lock manager settings a server uses, so doctor judges locks as servers do. */
  locks: LockManager;
}

/**
 * The lock manager of doctor and its repairs (the CLI's and the maintenance tool's): the servers' stale
 * time, so locks are judged as servers judge them, and a short timeout, so a repair leaves a lock that a
 * live process holds alone at once.
 */
export function doctorLocks(layout: Layout, lockStaleMs: number): LockManager {
  return new LockManager(layout.locksDir, defaultLockOptions({ timeoutMs: 1_000, staleMs: lockStaleMs }));
}

const CORRUPTED_FOLDER = 'corrupted';

export function corruptedDir(layout: Layout): string {
  return path.join(layout.root, 'tasks', CORRUPTED_FOLDER);
}

/** Looks at .task_orchestrator/ without changing anything; safe while servers run. */
export async function diagnose(layout: Layout, options: DiagnoseOptions): Promise<Finding[]> {
  if (!(await isDirectory(layout.root))) return [noStore(layout)];
  return [
    ...(await checkLayout(layout)),
    ...(await checkTaskFiles(layout)),
    ...(await checkRoleFiles(layout)),
    ...(await checkStoreFiles(layout)),
    ...(await checkLocks(layout, options)),
    ...(await checkTempFiles(layout)),
    ...(await checkRetention(layout)),
  ];
}

/** The last retention run that pruned something (transfer/retention-run.ts records it): said, so nobody wonders where tasks went. */
export async function checkRetention(layout: Layout): Promise<Finding[]> {
  const last = await lastRetentionRecord(layout);
  if (!last) return [];
  return [
    finding(layout, last.backup, {
      kind: 'retention_pruned',
      severity: 'note',
      message: `pruned ${last.pruned} archived parents on ${last.at.slice(0, 10)}, backup ${last.backup}`,
      meaning: 'The retention policy (retention.* in config.yaml) deleted these archived tasks after writing them into that backup.',
      remedy: 'Nothing to do. To bring them back: task-orchestrator restore on a copy of the project, or read the backup with tar -xzf.',
      fixable: false,
    }),
  ];
}

function finding(layout: Layout, file: string, fields: Omit<Finding, 'subject' | 'path'>): Finding {
  return { subject: subjectOf(layout, file), path: file, ...fields };
}

export function subjectOf(layout: Layout, file: string): string {
  const relative = path.relative(layout.root, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative.split(path.sep).join('/') : file;
}

function noStore(layout: Layout): Finding {
  return {
    kind: 'no_store',
    severity: 'note',
    subject: layout.root,
    path: layout.root,
    message: `${layout.base} has no .task_orchestrator/ folder`,
    meaning: 'No task was ever stored in this project, or this is not the project folder.',
    remedy: 'Nothing to do: the server creates the folder on its first start. Pass --base-dir to check another project.',
    fixable: false,
  };
}

async function checkLayout(layout: Layout): Promise<Finding[]> {
  const found: Finding[] = [];
  for (const dir of [layout.activeDir, layout.archiveDir, layout.locksDir, layout.logsDir, layout.workDir, layout.rolesDir, layout.templatesDir]) {
    const info = await stat(dir).catch(() => null);
    if (!info) found.push(finding(layout, dir, { kind: 'missing_folder', severity: 'problem', message: 'the folder is missing', meaning: 'The layout is incomplete (an older or Python-era installation, or a folder removed by hand); the server creates it on its next start.', remedy: '"doctor --fix" creates it.', fixable: true }));
    else if (!info.isDirectory()) found.push(finding(layout, dir, { kind: 'not_a_folder', severity: 'problem', message: 'this is a file, where a folder must be', meaning: 'The server cannot start in this project until it is a folder.', remedy: 'Move the file away (look inside first), then run "doctor --fix".', fixable: false }));
    else if (!(await isWritable(dir))) found.push(finding(layout, dir, { kind: 'not_writable', severity: 'problem', message: 'the folder is not writable by this user', meaning: 'Every change to tasks will fail with a storage error.', remedy: 'Fix its owner or permissions (chmod/chown), then run doctor again.', fixable: false }));
  }
  const defaults = path.join(layout.rolesDir, DEFAULT_ROLES_FILE);
  if ((await isDirectory(layout.rolesDir)) && !(await stat(defaults).catch(() => null))) {
    found.push(finding(layout, defaults, { kind: 'missing_default_roles', severity: 'problem', message: 'the built-in roles file is missing', meaning: 'The built-in roles still work; the file is where people read and override them.', remedy: '"doctor --fix" writes it (the server does too on its next start).', fixable: true }));
  }
  return found;
}

/** Every task file, active and archived: unreadable, misplaced, duplicated, or completed and not archived. */
async function checkTaskFiles(layout: Layout): Promise<Finding[]> {
  const found: Finding[] = [];
  const seen = new Map<string, string>();
  for (const [location, dir] of [['active', layout.activeDir], ['archive', layout.archiveDir]] as const) {
    for (const name of await taskFileNames(dir)) {
      const file = path.join(dir, name);
      const id = name.slice(0, -'.json'.length);
      const result = await checkTaskFile(layout, file, id, location);
      if (result) found.push(result);
      const other = seen.get(id);
      if (other) found.push(duplicate(layout, file, other, id));
      seen.set(id, file);
    }
  }
  const setAside = (await readdir(corruptedDir(layout)).catch(() => [] as string[])).filter((n) => !n.endsWith('.report.txt'));
  if (setAside.length) {
    found.push(finding(layout, corruptedDir(layout), { kind: 'set_aside_files', severity: 'note', message: `${setAside.length} file(s) set aside by "doctor --fix"`, meaning: 'Their tasks are no longer listed; each has a report beside it saying where it came from and why.', remedy: 'Repair and move them back, or delete them yourself once you no longer need them.', fixable: false }));
  }
  return found;
}

async function checkTaskFile(layout: Layout, file: string, id: string, location: 'active' | 'archive'): Promise<Finding | null> {
  const text = await readRegularFile(file).then((bytes) => bytes.toString('utf8'), (error: Error) => error);
  if (text instanceof NotRegularFileError) {
    return finding(layout, file, { kind: 'not_a_regular_file', severity: 'problem', message: `${text.what}, not a regular file`, meaning: 'The server never opens it (a named pipe would block it, a link could lead anywhere); calls on this task fail with STORE_CORRUPT, every other task keeps working.', remedy: `"doctor --fix" moves it to tasks/${CORRUPTED_FOLDER}/ with a report beside it (a link is moved, not what it points to); or move it away yourself.`, fixable: true, parent_task_id: id });
  }
  if (text instanceof Error) {
    return finding(layout, file, { kind: 'corrupt_task_file', severity: 'problem', message: `cannot be read (${text.message})`, meaning: 'This task cannot be read or changed.', remedy: 'Check the permissions of the file.', fixable: false, parent_task_id: id });
  }
  const parsed = parseTaskFile(text);
  const problem = problemWith(id, parsed);
  if (problem?.kind === 'corrupt') {
    return finding(layout, file, { kind: 'corrupt_task_file', severity: 'problem', message: problem.reason, meaning: 'This task cannot be read or changed; the server reports it and leaves the file as it is, and every other task keeps working.', remedy: `"doctor --fix" moves it to tasks/${CORRUPTED_FOLDER}/ with a report beside it (nothing is deleted); or fix it by hand or restore it from a backup.`, fixable: true, parent_task_id: id });
  }
  if (problem?.kind === 'unsupported_version') {
    return finding(layout, file, { kind: 'unsupported_task_file', severity: 'problem', message: problem.reason, meaning: 'A newer task-orchestrator wrote this task; this version leaves it untouched.', remedy: problem.action, fixable: false, parent_task_id: id });
  }
  if (problem) {
    return finding(layout, file, { kind: 'misplaced_task_file', severity: 'problem', message: problem.reason, meaning: 'The server cannot find this task under its id.', remedy: problem.action, fixable: false });
  }
  if (location === 'active' && parsed.ok && isParentComplete(parsed.value)) {
    return finding(layout, file, { kind: 'unarchived_parent', severity: 'problem', message: 'every subtask is completed, but the task was not moved to tasks/archive/', meaning: 'A process stopped between completing the task and archiving it (or a Python-era file). Nothing is lost.', remedy: '"doctor --fix" archives it (the server also does on its next start).', fixable: true, parent_task_id: id });
  }
  return null;
}

function duplicate(layout: Layout, file: string, other: string, id: string): Finding {
  return finding(layout, file, { kind: 'duplicate_task_file', severity: 'problem', message: `task ${id} is also in ${subjectOf(layout, other)}`, meaning: 'The server works on the copy in tasks/active/ and ignores the other one.', remedy: 'Compare the two files, keep the right one and move the other out of the tasks folders.', fixable: false, parent_task_id: id });
}

async function checkRoleFiles(layout: Layout): Promise<Finding[]> {
  const { errors } = await loadRoleCatalog(layout);
  return errors.map((error) => {
    const name = /^((?:templates\/)?[\w.-]+\.(?:yaml|md))\b/.exec(error)?.[1];
    const file = name ? path.join(layout.rolesDir, ...name.split('/')) : layout.rolesDir;
    const meaning = name?.startsWith('templates/')
      ? 'The template is not used: its roles get the next one in line (specialist_prompt.md, else the built-in template).'
      : 'The roles concerned fall back to their built-in definitions (or are missing, for new roles).';
    return finding(layout, file, { kind: 'role_file_error', severity: 'problem', message: error, meaning, remedy: 'Edit the file to fix it ("task-orchestrator roles" shows the result), then restart the servers.', fixable: false });
  });
}

async function checkLocks(layout: Layout, { locks }: DiagnoseOptions): Promise<Finding[]> {
  const found: Finding[] = [];
  for (const name of await readdir(layout.locksDir).catch(() => [] as string[])) {
    const file = path.join(layout.locksDir, name);
    if (name.endsWith('.lock.breaking')) {
      const marker = await takeoverMarker(layout, file, locks);
      if (marker) found.push(marker);
      continue;
    }
    if (!name.endsWith('.lock')) continue;
    const observed = await locks.observe(file).catch((error: unknown) => error as Error);
    if (observed instanceof Error) {
      found.push(unreadableLock(layout, file, observed));
      continue;
    }
    if (!observed) continue;
    const reason = locks.staleness(observed);
    const owner = observed.owner ? `pid ${observed.owner.pid} on ${observed.owner.host}, since ${observed.owner.acquired_at}` : 'an unknown process (no owner recorded)';
    if (!reason) {
      found.push(finding(layout, file, { kind: 'held_lock', severity: 'note', message: `held by ${owner}`, meaning: 'A running process is changing this task right now; this is normal.', remedy: 'Nothing to do.', fixable: false }));
      continue;
    }
    const dead = observed.owner !== null && locks.isOwnerGone(observed.owner);
    const cause = dead ? 'Its process stopped while holding it.' : 'Its holder stopped refreshing it (it stopped or hangs, or runs on another machine).';
    // A note, not a problem: servers take such locks over by themselves, so nothing is blocked.
    found.push(finding(layout, file, { kind: dead ? 'dead_lock' : 'stale_lock', severity: 'note', message: `lock held by ${owner}: ${reason}`, meaning: `${cause} The next server to need this task takes it over, so no work stays blocked.`, remedy: '"doctor --fix" clears it the way a server takes it over (only if it is still stale).', fixable: true }));
  }
  return found;
}

/** Something at a lock's name that is not a lock file (a link, a named pipe, a folder), or a lock that cannot be read. */
function unreadableLock(layout: Layout, file: string, error: Error): Finding {
  if (error instanceof NotRegularFileError) {
    return finding(layout, file, { kind: 'not_a_regular_file', severity: 'problem', message: `${error.what}, not a lock file`, meaning: 'The server never opens or removes it, and refuses to change this task (STORAGE_ERROR) while it is there.', remedy: 'Remove it by hand (look at what it is first); servers create the lock file when they need it.', fixable: false });
  }
  return finding(layout, file, { kind: 'unreadable_lock', severity: 'problem', message: `the lock file cannot be read (${error.message})`, meaning: 'Changes to this task fail with STORAGE_ERROR until it can be read.', remedy: 'Check its permissions, or remove it when no server is working on this task.', fixable: false });
}

async function takeoverMarker(layout: Layout, file: string, locks: LockManager): Promise<Finding | null> {
  const observed = await locks.observe(file).catch((error: unknown) => error as Error);
  if (observed instanceof Error) return unreadableLock(layout, file, observed);
  if (!observed || !locks.isMarkerDead(observed)) return null;
  return finding(layout, file, { kind: 'takeover_marker', severity: 'problem', message: 'a lock takeover marker left by a process that stopped mid-takeover', meaning: 'Servers remove it when they next need this lock; it only slows that first takeover.', remedy: '"doctor --fix" removes it.', fixable: true });
}

/**
 * The journal and the index cache: a link or named pipe there is never read (a named pipe would block
 * the server); the cache is then rebuilt by a scan at every start.
 */
async function checkStoreFiles(layout: Layout): Promise<Finding[]> {
  const found: Finding[] = [];
  for (const file of [layout.journalFile, layout.indexCacheFile]) {
    const info = await lstat(file).catch(() => null);
    if (!info || info.isFile()) continue;
    found.push(finding(layout, file, { kind: 'not_a_regular_file', severity: 'problem', message: `${describeFileType(info)}, not a regular file`, meaning: 'The server never reads it; the index of tasks is rebuilt by reading every task file instead, which slows down starts and queries.', remedy: 'Delete it (the server recreates it; it holds no task data).', fixable: false }));
  }
  return found;
}

/** Temp files of durable writes: leftovers when their writer is gone or they are over an hour old. */
async function checkTempFiles(layout: Layout): Promise<Finding[]> {
  // A running process's spare lock files are part of its locks, not writes in progress: not worth a note.
  const temps = (await findTempFiles(layout)).filter((t) => isLeftover(t) || !isSpareLockFile(path.basename(t.file)));
  return temps.map((t) => tempFinding(layout, t));
}

function tempFinding(layout: Layout, temp: TempFile): Finding {
  const { file, pid, liveness } = temp;
  if (!isLeftover(temp)) {
    const running = liveness === 'alive' ? 'which is running' : 'in another PID namespace or on another host, so it cannot be asked; it is recent';
    return finding(layout, file, { kind: 'temp_file_in_use', severity: 'note', message: `temporary file of pid ${pid}, ${running}`, meaning: 'A write is probably in progress.', remedy: 'Nothing to do.', fixable: false });
  }
  const why = liveness === 'dead' ? `its writer (pid ${pid}) is gone` : liveness === 'alive' ? `over an hour old (pid ${pid} runs, but pids are reused)` : `over an hour old (its writer, pid ${pid}, is in another PID namespace or on another host)`;
  return finding(layout, file, { kind: 'temp_file', severity: 'problem', message: `leftover temporary file: ${why}`, meaning: 'A process stopped in the middle of a write; the task file itself holds the previous complete version. The temporary file is only clutter.', remedy: '"doctor --fix" removes it (the server also does on its next start).', fixable: true });
}

async function taskFileNames(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
}


async function isWritable(dir: string): Promise<boolean> {
  return access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
}

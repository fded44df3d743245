import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { OrchestratorError } from '../domain/errors.js';
import { isParentComplete } from '../domain/lifecycle.js';
import type { ParentTask, SubtaskStatus } from '../domain/model.js';
import { parseTaskFile } from '../domain/task-file.js';
import { problemWith } from '../store/file/catalog.js';
import { isDirectory } from '../store/file/durable-fs.js';
import type { TaskStore } from '../app/ports.js';
import { STORE_FOLDER } from '../store/file/layout.js';
import { PYTHON_ROLE_FILES, projectRoleFiles, type RolesImportReport } from './python-roles.js';
import { readPythonDatabase } from './python-sqlite.js';

/**
 * Imports a Python MCP Task Orchestrator installation: its task files (.task_orchestrator/tasks/
 * active and archive), its SQLite databases and its custom roles. The source is only read. Each
 * parent keeps its id; one already in the store is left as it is, so running the import again
 * changes nothing. Completed parents go to tasks/archive/, the others to tasks/active/.
 */
export interface PythonInstallation {
  /** The Python .task_orchestrator folder (it may be missing when only a v1.3 database is found). */
  root: string;
  /** The folder the Python server ran in: v1.3 and v1.4 kept their database and *_roles.yaml there. */
  projectDir: string;
  taskFiles: string[];
  /** Every task_orchestrator.db found, each read once. */
  databases: string[];
  /** Python role files, most specific first: roles/custom_roles.yaml, roles/project_roles.yaml, then <project>/*_roles.yaml. */
  roleFiles: string[];
}

export const PYTHON_DATABASE_FILE = 'task_orchestrator.db';
/** The Python server's own setting for its database file (relative paths are taken from the folder it ran in). */
export const PYTHON_DB_PATH_VARIABLE = 'MCP_TASK_ORCHESTRATOR_DB_PATH';

export type ImportOutcome = 'imported' | 'already_present' | 'duplicate' | 'unreadable' | 'failed';

export interface ImportEntry {
  parent_task_id: string | null;
  /** The task file, or "<database>#<parent_task_id>". */
  source: string;
  outcome: ImportOutcome;
  /** Where an imported parent went. */
  location?: 'active' | 'archive';
  detail?: string;
}

/** One database that was read, with the committed changes found in its -wal file. */
export interface DatabaseRead {
  file: string;
  parents: number;
  wal_pages_applied: number;
}

export interface ImportReport {
  source_root: string;
  /** Every source read: the task-file folders, each database, each role file. */
  task_files: number;
  databases: DatabaseRead[];
  roles: RolesImportReport;
  entries: ImportEntry[];
  counts: Record<ImportOutcome, number>;
}

interface Candidate {
  parent: ParentTask;
  source: string;
  origin: 'json' | 'sqlite';
}

/**
 * Finds a Python installation in `dir` (the folder the Python server ran in, or its .task_orchestrator
 * folder). v1.5 keeps task_orchestrator.db inside .task_orchestrator/, v1.3 and v1.4 beside it, and
 * MCP_TASK_ORCHESTRATOR_DB_PATH may name another file: every one that exists is read.
 */
export async function findPythonInstallation(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<PythonInstallation> {
  const base = path.resolve(dir);
  const { root, projectDir } = await locateRoot(base);
  const taskFiles = [...(await jsonFiles(path.join(root, 'tasks', 'active'))), ...(await jsonFiles(path.join(root, 'tasks', 'archive')))];
  const fromEnv = env[PYTHON_DB_PATH_VARIABLE]?.trim();
  const databases = await distinctFiles([path.join(root, PYTHON_DATABASE_FILE), path.join(projectDir, PYTHON_DATABASE_FILE), ...(fromEnv ? [path.resolve(projectDir, fromEnv)] : [])]);
  const roleFiles = await distinctFiles([...PYTHON_ROLE_FILES.map((name) => path.join(root, 'roles', name)), ...(await projectRoleFiles(projectDir))]);
  const hasTasks = await isDirectory(path.join(root, 'tasks'));
  if (hasTasks || databases.length || roleFiles.length) return { root, projectDir, taskFiles, databases, roleFiles };
  throw new OrchestratorError(
    'INVALID_INPUT',
    `No Python task orchestrator data in ${base}: expected ${STORE_FOLDER}/tasks/active/, ${STORE_FOLDER}/tasks/archive/, ${PYTHON_DATABASE_FILE} (in ${STORE_FOLDER}/ or beside it), ` +
      `${STORE_FOLDER}/roles/custom_roles.yaml or *_roles.yaml. Pass the folder the Python server ran in (its MCP_TASK_ORCHESTRATOR_BASE_DIR, else its install folder)` +
      `${fromEnv ? `; ${PYTHON_DB_PATH_VARIABLE} names ${path.resolve(projectDir, fromEnv)}, which does not exist` : ''}.`,
  );
}

/** `dir/.task_orchestrator` when it exists, else `dir` itself when it holds tasks/ (a copied store folder). */
async function locateRoot(base: string): Promise<{ root: string; projectDir: string }> {
  if (path.basename(base) === STORE_FOLDER) return { root: base, projectDir: path.dirname(base) };
  const nested = path.join(base, STORE_FOLDER);
  if (await isDirectory(nested)) return { root: nested, projectDir: base };
  if (await isDirectory(path.join(base, 'tasks'))) return { root: base, projectDir: base };
  return { root: nested, projectDir: base };
}

/** The files among `candidates` that exist, each real file once (the same database can be named twice). */
async function distinctFiles(candidates: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const files: string[] = [];
  for (const file of candidates) {
    if ((await stat(file).catch(() => null))?.isFile() !== true) continue;
    const real = await realpath(file);
    if (seen.has(real)) continue;
    seen.add(real);
    files.push(file);
  }
  return files;
}

/** Imports the tasks (the roles are imported by importPythonRoles, which the report then carries). */
export async function importPythonInstallation(store: TaskStore, source: PythonInstallation, onProgress?: (done: number, total: number, id: string) => void): Promise<Omit<ImportReport, 'roles'>> {
  const entries: ImportEntry[] = [];
  const candidates = await readTaskFiles(source.taskFiles, entries);
  const databases: DatabaseRead[] = [];
  for (const file of source.databases) {
    const read = await readDatabase(file, candidates, entries);
    if (read) databases.push(read);
  }
  const chosen = pickMostAdvanced(candidates, entries);
  let done = 0;
  for (const candidate of chosen) {
    onProgress?.(done, chosen.length, candidate.parent.parent_task_id);
    entries.push(await importOne(store, candidate));
    done++;
  }
  onProgress?.(done, chosen.length, '');
  return { source_root: source.root, task_files: source.taskFiles.length, databases, entries, counts: countOutcomes(entries) };
}

async function readTaskFiles(files: string[], entries: ImportEntry[]): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for (const file of files) {
    const id = path.basename(file, '.json');
    const text = await readFile(file, 'utf8').catch((error: Error) => error);
    const parent = typeof text === 'string' ? validate(id, text) : `cannot be read (${text.message})`;
    if (typeof parent === 'string') entries.push({ parent_task_id: id, source: file, outcome: 'unreadable', detail: parent });
    else candidates.push({ parent, source: file, origin: 'json' });
  }
  return candidates;
}

async function readDatabase(file: string, candidates: Candidate[], entries: ImportEntry[]): Promise<DatabaseRead | null> {
  let content;
  try {
    content = await readPythonDatabase(file);
  } catch (error) {
    entries.push({ parent_task_id: null, source: file, outcome: 'unreadable', detail: `the database cannot be read: ${(error as Error).message}` });
    return null;
  }
  for (const raw of content.parents) {
    const id = String(raw.parent_task_id);
    const parent = validate(id, JSON.stringify(raw));
    if (typeof parent === 'string') entries.push({ parent_task_id: id, source: `${file}#${id}`, outcome: 'unreadable', detail: parent });
    else candidates.push({ parent, source: `${file}#${id}`, origin: 'sqlite' });
  }
  return { file, parents: content.parents.length, wal_pages_applied: content.walPagesApplied };
}

/** The parent in a task file's text, or why it cannot be imported. */
function validate(id: string, text: string): ParentTask | string {
  const parsed = parseTaskFile(text);
  const problem = problemWith(id, parsed);
  if (problem) return problem.reason;
  return parsed.ok ? parsed.value : 'unreadable';
}

/**
 * The same parent can be in both the task files and the database, or in active and archive: keep the
 * copy that got furthest (the Python file store often never saved updates after creation).
 */
function pickMostAdvanced(candidates: Candidate[], entries: ImportEntry[]): Candidate[] {
  const best = new Map<string, Candidate>();
  for (const candidate of candidates) {
    const id = candidate.parent.parent_task_id;
    const current = best.get(id);
    const [keep, drop] = !current || isFurther(candidate, current) ? [candidate, current] : [current, candidate];
    best.set(id, keep);
    if (drop) entries.push({ parent_task_id: id, source: drop.source, outcome: 'duplicate', detail: `another copy got further: ${keep.source}` });
  }
  return [...best.values()];
}

const STATUS_RANK: Record<SubtaskStatus, number> = { pending: 0, active: 1, blocked: 2, failed: 2, completed: 3 };

function isFurther(a: Candidate, b: Candidate): boolean {
  const rank = (c: Candidate) => c.parent.subtasks.reduce((sum, s) => sum + STATUS_RANK[s.status], 0);
  if (rank(a) !== rank(b)) return rank(a) > rank(b);
  const latest = (c: Candidate) => Math.max(0, ...c.parent.subtasks.map((s) => Date.parse(s.completed_at ?? '') || 0));
  if (latest(a) !== latest(b)) return latest(a) > latest(b);
  return a.origin === 'sqlite' && b.origin === 'json';
}

async function importOne(store: TaskStore, candidate: Candidate): Promise<ImportEntry> {
  const { parent, source } = candidate;
  const location = isParentComplete(parent) ? 'archive' : 'active';
  try {
    const imported = await store.importParent(parent, location);
    if (!imported) return { parent_task_id: parent.parent_task_id, source, outcome: 'already_present', detail: 'a task with this id is already in this store; it was left as it is' };
    return { parent_task_id: parent.parent_task_id, source, outcome: 'imported', location };
  } catch (error) {
    return { parent_task_id: parent.parent_task_id, source, outcome: 'failed', detail: (error as Error).message };
  }
}

function countOutcomes(entries: ImportEntry[]): Record<ImportOutcome, number> {
  const counts: Record<ImportOutcome, number> = { imported: 0, already_present: 0, duplicate: 0, unreadable: 0, failed: 0 };
  for (const e of entries) counts[e.outcome]++;
  return counts;
}

async function jsonFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n));
}

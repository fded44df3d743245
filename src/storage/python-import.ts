import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { OrchestratorError } from '../domain/errors.js';
import { isParentComplete } from '../domain/lifecycle.js';
import type { ParentTask, SubtaskStatus } from '../domain/model.js';
import { parseTaskFile } from '../domain/task-file.js';
import { problemWith } from './catalog.js';
import type { FileTaskStore } from './file-task-store.js';
import { STORE_FOLDER } from './layout.js';
import { readPythonDatabase } from './python-sqlite.js';

/**
 * Imports a Python MCP Task Orchestrator installation: its task files (.task_orchestrator/tasks/
 * active and archive) and its SQLite database (task_orchestrator.db). The source is only read. Each
 * parent keeps its id; one already in the store is left as it is, so running the import again
 * changes nothing. Completed parents go to tasks/archive/, the others to tasks/active/.
 */
export interface PythonInstallation {
  /** The Python .task_orchestrator folder. */
  root: string;
  taskFiles: string[];
  database: string | null;
}

export const PYTHON_DATABASE_FILE = 'task_orchestrator.db';

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

export interface ImportReport {
  source_root: string;
  database: string | null;
  wal_pages_applied: number;
  entries: ImportEntry[];
  counts: Record<ImportOutcome, number>;
}

interface Candidate {
  parent: ParentTask;
  source: string;
  origin: 'json' | 'sqlite';
}

/** Finds the Python .task_orchestrator folder in `dir` (or `dir` itself), with its task files and database. */
export async function findPythonInstallation(dir: string): Promise<PythonInstallation> {
  const base = path.resolve(dir);
  for (const root of path.basename(base) === STORE_FOLDER ? [base] : [path.join(base, STORE_FOLDER), base]) {
    const taskFiles = [...(await jsonFiles(path.join(root, 'tasks', 'active'))), ...(await jsonFiles(path.join(root, 'tasks', 'archive')))];
    const database = path.join(root, PYTHON_DATABASE_FILE);
    const hasDatabase = (await stat(database).catch(() => null))?.isFile() === true;
    const hasTasks = (await stat(path.join(root, 'tasks')).catch(() => null))?.isDirectory() === true;
    if (hasTasks || hasDatabase) return { root, taskFiles, database: hasDatabase ? database : null };
  }
  throw new OrchestratorError('INVALID_INPUT', `No Python task orchestrator data in ${base}: expected ${STORE_FOLDER}/tasks/active/, ${STORE_FOLDER}/tasks/archive/ or ${STORE_FOLDER}/${PYTHON_DATABASE_FILE}. Pass the folder the Python server ran in (its MCP_TASK_ORCHESTRATOR_BASE_DIR, else its install folder).`);
}

export async function importPythonInstallation(store: FileTaskStore, source: PythonInstallation, onProgress?: (done: number, total: number, id: string) => void): Promise<ImportReport> {
  const entries: ImportEntry[] = [];
  const candidates = await readTaskFiles(source.taskFiles, entries);
  const database = source.database ? await readDatabase(source.database, candidates, entries) : { walPagesApplied: 0 };
  const chosen = pickMostAdvanced(candidates, entries);
  let done = 0;
  for (const candidate of chosen) {
    onProgress?.(done, chosen.length, candidate.parent.parent_task_id);
    entries.push(await importOne(store, candidate));
    done++;
  }
  onProgress?.(done, chosen.length, '');
  return { source_root: source.root, database: source.database, wal_pages_applied: database.walPagesApplied, entries, counts: countOutcomes(entries) };
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

async function readDatabase(file: string, candidates: Candidate[], entries: ImportEntry[]): Promise<{ walPagesApplied: number }> {
  let content;
  try {
    content = await readPythonDatabase(file);
  } catch (error) {
    entries.push({ parent_task_id: null, source: file, outcome: 'unreadable', detail: `the database cannot be read: ${(error as Error).message}` });
    return { walPagesApplied: 0 };
  }
  for (const raw of content.parents) {
    const id = String(raw.parent_task_id);
    const parent = validate(id, JSON.stringify(raw));
    if (typeof parent === 'string') entries.push({ parent_task_id: id, source: `${file}#${id}`, outcome: 'unreadable', detail: parent });
    else candidates.push({ parent, source: `${file}#${id}`, origin: 'sqlite' });
  }
  return { walPagesApplied: content.walPagesApplied };
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

async function importOne(store: FileTaskStore, candidate: Candidate): Promise<ImportEntry> {
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

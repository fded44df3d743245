import { readFile } from 'node:fs/promises';
import type { Database, SqlValue } from 'sql.js';
import { applyWal } from './sqlite-wal.js';

/**
 * Reads the Python orchestrator's SQLite database (tables task_breakdowns and subtasks, written by
 * SQLAlchemy) into plain objects in the v1 task file format, without changing the database. sql.js is
 * SQLite compiled to WebAssembly and shipped inside its npm package: no native build, no download.
 */
export interface PythonDatabaseContent {
  /** One v1-format object per row of task_breakdowns, with its subtasks in insertion order. */
  parents: Record<string, unknown>[];
  /** Committed changes found in the -wal file and included. */
  walPagesApplied: number;
}

export async function readPythonDatabase(file: string): Promise<PythonDatabaseContent> {
  const { image, pagesApplied } = applyWal(await readFile(file), await readFile(`${file}-wal`).catch(() => new Uint8Array()));
  const { default: initSqlJs } = await import('sql.js');
  const SQL = await initSqlJs({ useOldExtensionFunctions: false });
  const db = new SQL.Database(image);
  try {
    const tables = new Set(rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => String(r.name)));
    for (const table of ['task_breakdowns', 'subtasks']) {
      if (!tables.has(table)) throw new Error(`it has no table ${table}, so it is not a Python MCP Task Orchestrator database`);
    }
    const subtasks = groupBy(rows(db, 'SELECT * FROM subtasks ORDER BY rowid'), 'parent_task_id');
    const parents = rows(db, 'SELECT * FROM task_breakdowns ORDER BY rowid').map((row) => toParent(row, subtasks.get(String(row.parent_task_id)) ?? []));
    return { parents, walPagesApplied: pagesApplied };
  } finally {
    db.close();
  }
}

function rows(db: Database, sql: string): Record<string, SqlValue>[] {
  const statement = db.prepare(sql);
  const result: Record<string, SqlValue>[] = [];
  try {
    while (statement.step()) result.push(statement.getAsObject());
  } finally {
    statement.free();
  }
  return result;
}

function groupBy(list: Record<string, SqlValue>[], key: string): Map<string, Record<string, SqlValue>[]> {
  const groups = new Map<string, Record<string, SqlValue>[]>();
  for (const row of list) {
    const value = String(row[key]);
    groups.set(value, [...(groups.get(value) ?? []), row]);
  }
  return groups;
}

function toParent(row: Record<string, SqlValue>, subtasks: Record<string, SqlValue>[]): Record<string, unknown> {
  const createdAt = timestamp(row.created_at);
  return {
    version: '1.0',
    parent_task_id: text(row.parent_task_id),
    description: text(row.description) ?? '',
    complexity: enumValue(row.complexity) ?? 'moderate',
    context: text(row.context) ?? '',
    created_at: createdAt,
    subtasks: subtasks.map((s) => toSubtask(s, createdAt)),
  };
}

function toSubtask(row: Record<string, SqlValue>, parentCreatedAt: string | null): Record<string, unknown> {
  return {
    task_id: text(row.task_id),
    title: text(row.title) ?? '',
    description: text(row.description) ?? '',
    specialist_type: enumValue(row.specialist_type),
    dependencies: jsonList(row.dependencies),
    estimated_effort: text(row.estimated_effort) ?? '',
    status: enumValue(row.status) ?? 'pending',
    results: text(row.results),
    artifacts: jsonList(row.artifacts),
    created_at: timestamp(row.created_at) ?? parentCreatedAt,
    completed_at: timestamp(row.completed_at),
  };
}

function text(value: SqlValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value);
}

/** SQLAlchemy stores enums by value ("pending"); some versions wrote the name ("TaskStatus.PENDING"). */
function enumValue(value: SqlValue | undefined): string | null {
  const raw = text(value);
  return raw === null ? null : raw.replace(/^\w+\./, '').trim().toLowerCase();
}

/** SQLAlchemy's DateTime on SQLite: "2025-05-30 14:03:11.123456"; the JSON files used isoformat(), with a "T". */
function timestamp(value: SqlValue | undefined): string | null {
  const raw = text(value);
  return raw === null ? null : raw.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
}

/** A JSON list column: non-text items are kept as JSON text, and text that is not JSON is kept as one item. */
function jsonList(value: SqlValue | undefined): string[] {
  const raw = text(value);
  if (raw === null || raw.trim() === '') return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))) : [];
  } catch {
    return [raw];
  }
}

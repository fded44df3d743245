import os from 'node:os';
import { OrchestratorError } from '../domain/errors.js';
import type { ParentTask } from '../domain/model.js';
import { parseTaskFile } from '../domain/task-file.js';
import type { Database, Sql } from '../store/postgres/database.js';
import { rolesOrigin } from '../store/postgres/role-files-table.js';
import { SCHEMA, SCHEMA_LOCK_KEY } from '../store/postgres/schema.js';
import { summarize } from '../store/summaries.js';
import { documentEntryName, parentEntryName, parsePlanKey, planKeyEntryName, planKeyText, roleEntryName, sameEntry, targetOf, type EntryTarget, type Location, type StateEntry } from './entries.js';
import type { PutOutcome, StateStore } from './state-store.js';
import { isDue } from '../domain/schedule.js';

/** Parents read per query of a snapshot: bounded memory at 10,000 parents and more. */
const PAGE = 500;

/**
 * The PostgreSQL store's state as entries. A snapshot is one REPEATABLE READ, READ ONLY transaction:
 * every row as of one instant, whatever servers commit meanwhile. Each put is one transaction.
 */
export class PostgresStateStore implements StateStore {
  readonly kind = 'postgres' as const;

  constructor(readonly db: Database) {}

  get description(): string {
    return `the PostgreSQL database ${this.db.label}`;
  }

  async snapshot(visit: (entry: StateEntry) => Promise<void>): Promise<void> {
    let ran = false;
    await this.db.transaction({ what: 'read a snapshot of every task' }, async (sql) => {
      // A rerun after a lost connection would hand the same entries twice: refuse rather than mix.
      if (ran) throw new OrchestratorError('STORAGE_UNAVAILABLE', `The connection to ${this.db.label} was lost during the snapshot. Nothing was written; run the command again.`);
      ran = true;
      await sql.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await this.visitRoles(sql, visit);
      await this.visitParents(sql, visit);
      await this.visitPlanKeys(sql, visit);
    });
  }

  async put(entry: StateEntry, options: { force: boolean }): Promise<PutOutcome> {
    const target = targetOf(entry.name);
    return this.db.transaction({ what: `store ${entry.name}` }, (sql) => this.putIn(sql, target, entry, options.force));
  }

  /** One transaction: every row deleted and the entries inserted; servers' listings follow (the removals are recorded). */
  async replaceAll(entries: () => AsyncIterable<StateEntry>): Promise<void> {
    await this.db.transaction({ what: 'replace every task (restore)' }, async (sql) => {
      await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
      await sql.query(`DELETE FROM ${SCHEMA}.parents`);
      await sql.query(`DELETE FROM ${SCHEMA}.documents`);
      await sql.query(`DELETE FROM ${SCHEMA}.plan_keys`);
      await sql.query(`DELETE FROM ${SCHEMA}.role_files`);
      const batch: ParentRow[] = [];
      for await (const entry of entries()) {
        const target = targetOf(entry.name);
        if (target.kind !== 'parents_active' && target.kind !== 'parents_archived') await this.write(sql, target, entry);
        else if (batch.push(parentRow(target.parentTaskId, target.location, entry)) >= PAGE) await insertParents(sql, batch.splice(0));
      }
      await insertParents(sql, batch);
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async visitRoles(sql: Sql, visit: (entry: StateEntry) => Promise<void>): Promise<void> {
    const { rows } = await sql.query<{ name: string; body: string }>(`SELECT name, body FROM ${SCHEMA}.role_files ORDER BY name`);
    for (const row of rows) await visit({ name: roleEntryName(row.name), data: row.body });
  }

  private async visitParents(sql: Sql, visit: (entry: StateEntry) => Promise<void>): Promise<void> {
    for (let after = ''; ; ) {
      const { rows } = await sql.query<{ parent_task_id: string; location: Location; body: string }>(`SELECT parent_task_id, location, body FROM ${SCHEMA}.parents WHERE parent_task_id > $1 ORDER BY parent_task_id LIMIT ${PAGE}`, [after]);
      if (!rows.length) return;
      const documents = await sql.query<{ parent_task_id: string; path: string; body: string }>(`SELECT parent_task_id, path, body FROM ${SCHEMA}.documents WHERE parent_task_id = ANY($1::text[]) ORDER BY parent_task_id, path`, [rows.map((r) => r.parent_task_id)]);
      for (const row of rows) {
        for (const doc of documents.rows.filter((d) => d.parent_task_id === row.parent_task_id)) await visit({ name: documentEntryName(doc.path), data: doc.body });
        await visit({ name: parentEntryName(row.parent_task_id, row.location), data: row.body });
      }
      after = rows.at(-1)!.parent_task_id;
    }
  }

  private async visitPlanKeys(sql: Sql, visit: (entry: StateEntry) => Promise<void>): Promise<void> {
    const { rows } = await sql.query<{ key_sha256: string; args_sha256: string; parent_task_id: string; at: string }>(`SELECT key_sha256, args_sha256, parent_task_id, at FROM ${SCHEMA}.plan_keys ORDER BY key_sha256`);
    for (const row of rows) await visit({ name: planKeyEntryName(row.key_sha256), data: planKeyText(row.key_sha256, row) });
  }

  private async putIn(sql: Sql, target: EntryTarget, entry: StateEntry, force: boolean): Promise<PutOutcome> {
    const existing = await this.existing(sql, target);
    if (existing !== null && sameEntry(entry.name, existing, entry.data)) return 'skipped';
    if (existing !== null && !force) return 'conflict';
    await this.write(sql, target, entry);
    return existing === null ? 'copied' : 'replaced';
  }

  /** The entry's content as stored (locked for this transaction), null when there is none; a parent elsewhere counts as different. */
  private async existing(sql: Sql, target: EntryTarget): Promise<string | null> {
    switch (target.kind) {
      case 'parents_active':
      case 'parents_archived': {
        const { rows } = await sql.query<{ body: string; location: Location }>(`SELECT body, location FROM ${SCHEMA}.parents WHERE parent_task_id = $1 FOR UPDATE`, [target.parentTaskId]);
        const row = rows[0];
        if (!row) return null;
        return row.location === target.location ? row.body : `\u0000in ${row.location}`;
      }
      case 'documents':
        return one(await sql.query<{ body: string }>(`SELECT body FROM ${SCHEMA}.documents WHERE path = $1 FOR UPDATE`, [target.path]));
      case 'role_files':
        return one(await sql.query<{ body: string }>(`SELECT body FROM ${SCHEMA}.role_files WHERE name = $1 FOR UPDATE`, [target.roleName]));
      case 'plan_keys': {
        const { rows } = await sql.query<{ args_sha256: string; parent_task_id: string; at: string }>(`SELECT args_sha256, parent_task_id, at FROM ${SCHEMA}.plan_keys WHERE key_sha256 = $1 FOR UPDATE`, [target.keySha256]);
        return rows[0] ? planKeyText(target.keySha256, rows[0]) : null;
      }
    }
  }

  private async write(sql: Sql, target: EntryTarget, entry: StateEntry): Promise<void> {
    switch (target.kind) {
      case 'parents_active':
      case 'parents_archived':
        return writeParent(sql, target.parentTaskId, target.location, entry);
      case 'documents':
        await sql.query(
          `INSERT INTO ${SCHEMA}.documents (parent_task_id, subtask_id, number, path, body) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (path) DO UPDATE SET body = excluded.body, stored_at = now()`,
          [target.parentTaskId, target.subtaskId, target.number, target.path, entry.data],
        );
        return;
      case 'role_files':
        return writeRoleFile(sql, target.roleName, entry.data);
      case 'plan_keys': {
        const record = parsePlanKey(entry.name, entry.data);
        await sql.query(
          `INSERT INTO ${SCHEMA}.plan_keys (key_sha256, args_sha256, parent_task_id, at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key_sha256) DO UPDATE SET args_sha256 = excluded.args_sha256, parent_task_id = excluded.parent_task_id, at = excluded.at`,
          [target.keySha256, record.args_sha256, record.parent_task_id, record.at],
        );
      }
    }
  }
}

interface ParentRow {
  parent: ParentTask;
  location: Location;
  body: string;
}

/** A parent's row from its task file, the body kept byte for byte; a file that is not a task is refused. */
function parentRow(id: string, location: Location, entry: StateEntry): ParentRow {
  const parsed = parseTaskFile(entry.data);
  if (!parsed.ok) throw new OrchestratorError('INVALID_INPUT', `${entry.name} is not a task file this version can store: ${parsed.message}`, { entry: entry.name });
  if (parsed.value.parent_task_id !== id) throw new OrchestratorError('INVALID_INPUT', `${entry.name} holds parent_task_id "${parsed.value.parent_task_id.slice(0, 60)}", not "${id}"`, { entry: entry.name });
  return { parent: parsed.value, location, body: entry.data };
}

/** Many new parents in two statements (a restore into emptied tables: no conflicts). */
async function insertParents(sql: Sql, rows: readonly ParentRow[]): Promise<void> {
  if (!rows.length) return;
  const summaries = rows.map((r) => summarize(r.parent, r.location));
  await sql.query(
    `INSERT INTO ${SCHEMA}.parents (parent_task_id, location, status, title, created_at, updated_at, revision, body, body_sha256, summary)
     SELECT id, location, status, title, created_at, updated_at, revision, body, sha256(convert_to(body, 'UTF8')), summary
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::jsonb[])
       AS t(id, location, status, title, created_at, updated_at, revision, body, summary)`,
    [
      rows.map((r) => r.parent.parent_task_id),
      rows.map((r) => r.location),
      summaries.map((s) => s.status),
      summaries.map((s) => s.title),
      rows.map((r) => r.parent.created_at),
      summaries.map((s) => s.updated_at),
      rows.map((r) => r.parent.revision ?? 0),
      rows.map((r) => r.body),
      summaries.map((s) => JSON.stringify(s)),
    ],
  );
  const pairs = rows.flatMap((r) => [...new Set(r.parent.subtasks.map((s) => s.task_id))].map((sub) => [sub, r.parent.parent_task_id] as const));
  if (pairs.length) await sql.query(`INSERT INTO ${SCHEMA}.subtasks (subtask_id, parent_task_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
}

/** One parent's row, inserted or replaced, with its subtask ids. */
export async function writeParent(sql: Sql, id: string, location: Location, entry: StateEntry): Promise<void> {
  const { parent } = parentRow(id, location, entry);
  const summary = summarize(parent, location);
  await sql.query(
    `INSERT INTO ${SCHEMA}.parents (parent_task_id, location, status, title, created_at, updated_at, revision, body, body_sha256, summary)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, sha256(convert_to($8, 'UTF8')), $9)
     ON CONFLICT (parent_task_id) DO UPDATE SET location = excluded.location, status = excluded.status, title = excluded.title, created_at = excluded.created_at,
       updated_at = excluded.updated_at, revision = excluded.revision, body = excluded.body, body_sha256 = excluded.body_sha256, summary = excluded.summary`,
    [id, location, summary.status, summary.title, parent.created_at, summary.updated_at, parent.revision ?? 0, entry.data, summary],
  );
  await sql.query(`DELETE FROM ${SCHEMA}.subtasks WHERE parent_task_id = $1`, [id]);
  const ids = [...new Set(parent.subtasks.map((s) => s.task_id))];
  if (ids.length) await sql.query(`INSERT INTO ${SCHEMA}.subtasks (subtask_id, parent_task_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`, [ids, id]);
}

/**
 * One role file of the team. The first one also records where the team's roles came from, so that no
 * server seeds (and so replaces) them with its own project's files.
 */
export async function writeRoleFile(sql: Sql, name: string, body: string): Promise<void> {
  await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
  await sql.query(`INSERT INTO ${SCHEMA}.role_files (name, body) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET body = excluded.body, stored_at = now()`, [name, body]);
  if ((await rolesOrigin(sql)) === null) {
    await sql.query(`INSERT INTO ${SCHEMA}.meta (key, value) VALUES ('roles', $1) ON CONFLICT (key) DO NOTHING`, [{ how: 'pushed', from: 'task-orchestrator migrate or restore', host: os.hostname(), at: new Date().toISOString() }]);
  }
}

function one(result: { rows: { body: string }[] }): string | null {
  return result.rows[0]?.body ?? null;
}

/** Advisory lock of the schedule claims (transfer/safety-schedule.ts), apart from the schema's. */
const SCHEDULE_LOCK_KEY = '8386110885298741099';

/** claimScheduledRun for a database: an advisory lock (tried, never waited for) and the meta row "schedule-<job>". */
export async function claimInDatabase(db: Database, job: string, intervalMs: number, now: Date): Promise<boolean> {
  return db.transaction({ what: `claim the scheduled ${job}` }, async (sql) => {
    const { rows } = await sql.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [SCHEDULE_LOCK_KEY]);
    if (!rows[0]!.locked) return false;
    const key = `schedule-${job}`;
    const last = await sql.query<{ value: { at: string } }>(`SELECT value FROM ${SCHEMA}.meta WHERE key = $1`, [key]);
    if (!isDue(last.rows[0]?.value.at, intervalMs, now)) return false;
    await sql.query(`INSERT INTO ${SCHEMA}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, { at: now.toISOString(), pid: process.pid }]);
    return true;
  });
}

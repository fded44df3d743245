import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { Logger, ParentSummary, PlanKeyRecord, StoreProblem, StoreStatistics, TaskStore } from '../../app/ports.js';
import { OrchestratorError } from '../../domain/errors.js';
import { KEY_RETENTION_MS, PLAN_KEYS_KEPT } from '../../domain/idempotency.js';
import { isValidTaskId, newParentTaskId, truncate } from '../../domain/ids.js';
import { isParentComplete } from '../../domain/lifecycle.js';
import type { ParentTask } from '../../domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../../domain/task-file.js';
import { summarize } from '../summaries.js';
import { CallerError, Database, type DatabaseOptions, type Sql } from './database.js';
import { isDatabaseFailure, LockWaitTimedOut, sqlState } from './database-errors.js';
import { readRoleFiles, replaceRoleFiles, rolesOrigin, type RoleFilesOrigin } from './role-files-table.js';
import { installedVersion, prepareSchema, SCHEMA, SCHEMA_LOCK_KEY, type SchemaReport } from './schema.js';
import { SummaryCache } from './summary-cache.js';

type Location = ParentSummary['location'];

export interface PostgresStoreOptions extends DatabaseOptions {
  randomHex?: (chars: number) => string;
  /** The role files to seed the team's roles with when the database has none yet (the first server's project files). */
  seedRoles?: { files: ReadonlyMap<string, string>; origin: RoleFilesOrigin };
  /** How long to wait for the schema's lock when the schema must be migrated (SCHEMA_LOCK_WAIT_MS by default). */
  schemaLockWaitMs?: number;
}

/** How often one process sweeps expired plan_task keys. */
const PLAN_KEY_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** The change in progress on this async path: saveDocument called by its change() joins its transaction. */
interface OpenChange {
  parentTaskId: string;
  sql: Sql;
}

/**
 * Team mode: the TaskStore port on PostgreSQL, so that any number of servers on any number of machines
 * share one state. A parent is one row whose body is exactly the task file the file store would write;
 * a change is one transaction holding the row's lock (SELECT ... FOR UPDATE), so of two servers racing
 * for a subtask exactly one finds it free, and the reply comes only after COMMIT.
 */
export class PostgresTaskStore implements TaskStore {
  readonly readOnly = false;
  private readonly cache: SummaryCache;
  private readonly changes = new AsyncLocalStorage<OpenChange>();
  private readonly randomHex: (chars: number) => string;
  private lastPlanKeySweep = 0;
  schema: SchemaReport | null = null;

  private constructor(
    readonly db: Database,
    private readonly logger: Logger,
    randomHexFn?: (chars: number) => string,
  ) {
    this.randomHex = randomHexFn ?? ((chars) => randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars));
    this.cache = new SummaryCache((sql, id) => this.checkRow(sql, id));
  }

  /**
   * Connects, creates or migrates the schema (once, under an advisory lock, whoever starts first), seeds
   * the team's roles if there are none, and loads the listings. Refuses a schema newer than it knows.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresTaskStore> {
    const db = await Database.create(options);
    const store = new PostgresTaskStore(db, options.logger, options.randomHex);
    try {
      const seed = options.seedRoles;
      const seeding = seed ? { needed: async (sql: Sql) => (await rolesOrigin(sql)) === null, run: (sql: Sql) => store.seedRoles(sql, seed) } : undefined;
      store.schema = await prepareSchema(db, seeding, options.schemaLockWaitMs);
      if (store.schema.applied.length) options.logger.info(`Migrated the task_orchestrator schema of ${db.label} to version ${store.schema.version}`, { applied: store.schema.applied });
      await store.refresh(false);
    } catch (error) {
      await db.close();
      throw error;
    }
    return store;
  }

  async create(build: (parentTaskId: string) => ParentTask): Promise<ParentTask> {
    const parent = await this.db.transaction({ what: 'store a new task' }, async (sql) => {
      for (;;) {
        const candidate = build(newParentTaskId(this.randomHex));
        if (await this.insert(sql, candidate, 'active')) return candidate;
        // another server took this id a moment ago: draw again
      }
    });
    this.cache.noteWritten(parent, 'active');
    return parent;
  }

  async newParentId(): Promise<string> {
    for (;;) {
      const id = newParentTaskId(this.randomHex);
      if ((await this.locationOf(id)) === null) return id;
    }
  }

  async reservePlanKey(keySha256: string, proposed: PlanKeyRecord): Promise<PlanKeyRecord> {
    if (!/^[0-9a-f]{64}$/.test(keySha256)) throw new Error(`not a sha256: ${keySha256}`);
    await this.sweepPlanKeysNowAndThen();
    return this.db.transaction({ what: 'store the idempotency key of plan_task' }, async (sql) => {
      const inserted = await sql.query(`INSERT INTO ${SCHEMA}.plan_keys (key_sha256, args_sha256, parent_task_id, at) VALUES ($1, $2, $3, $4) ON CONFLICT (key_sha256) DO NOTHING`, [keySha256, proposed.args_sha256, proposed.parent_task_id, proposed.at]);
      if (inserted.rowCount === 1) return proposed;
      // A statement of its own: at READ COMMITTED it sees the row a concurrent call committed meanwhile.
      const { rows } = await sql.query<PlanKeyRecord>(`SELECT args_sha256, parent_task_id, at FROM ${SCHEMA}.plan_keys WHERE key_sha256 = $1`, [keySha256]);
      const record = rows[0];
      if (!record || !isValidTaskId(record.parent_task_id)) {
        throw new OrchestratorError('STORE_CORRUPT', `The idempotency key record ${keySha256} in ${this.db.label} is damaged, so this retry cannot be matched to its first call. Nothing was changed. Delete its row (DELETE FROM ${SCHEMA}.plan_keys WHERE key_sha256 = '${keySha256}') and call again.`, { key_sha256: keySha256 });
      }
      return { args_sha256: record.args_sha256, parent_task_id: record.parent_task_id, at: record.at };
    });
  }

  async createWithId(parent: ParentTask): Promise<{ parent: ParentTask; created: boolean }> {
    const id = parent.parent_task_id;
    const outcome = await this.db.transaction({ what: `store task ${id}`, parentTaskId: id }, async (sql) => {
      if (await this.insert(sql, parent, 'active')) return { parent, created: true };
      return { parent: (await this.readRow(sql, id, '')).parent, created: false }; // a retry racing this one created it
    });
    if (outcome.created) this.cache.noteWritten(parent, 'active');
    return outcome;
  }

  async importParent(parent: ParentTask, location: Location): Promise<boolean> {
    const id = parent.parent_task_id;
    const created = await this.db.transaction({ what: `import task ${id}`, parentTaskId: id }, (sql) => this.insert(sql, parent, location));
    if (created) this.cache.noteWritten(parent, location);
    return created;
  }

  async read(parentTaskId: string): Promise<ParentTask> {
    checkId(parentTaskId);
    return (await this.db.read({ what: `read task ${parentTaskId}`, parentTaskId }, (sql) => this.readRow(sql, parentTaskId, ''))).parent;
  }

  async update(parentTaskId: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): Promise<ParentTask> {
    checkId(parentTaskId);
    let written: { parent: ParentTask; location: Location; archived: boolean } | null = null;
    const result = await this.db.transaction({ what: `change task ${parentTaskId}`, parentTaskId }, async (sql) => {
      written = null;
      const { parent, location } = await this.readRow(sql, parentTaskId, 'FOR UPDATE');
      const next = await this.changes.run({ parentTaskId, sql }, async () => change(parent)).catch((error: unknown) => {
        // A failure of the database inside change() (saveDocument's statement, a lost connection) is the
        // transaction's own: classified and retried like any other. Anything else is the caller's own
        // refusal: rolled back and passed on as it is.
        throw isDatabaseFailure(error) ? error : new CallerError(error);
      });
      if (next === parent) return parent;
      const stored = { ...next, revision: (parent.revision ?? 0) + 1 };
      const target: Location = isParentComplete(stored) ? 'archive' : 'active'; // archived in the same commit
      await this.write(sql, stored, target);
      if (subtaskIds(stored) !== subtaskIds(parent)) await this.indexSubtasks(sql, stored, true);
      written = { parent: stored, location: target, archived: target === 'archive' && location !== 'archive' };
      return stored;
    });
    this.afterCommit(written);
    return result;
  }

  async locationOf(parentTaskId: string): Promise<Location | null> {
    if (!isValidTaskId(parentTaskId)) return null;
    const rows = await this.db.query<{ location: Location }>({ what: `look up task ${parentTaskId}`, parentTaskId }, `SELECT location FROM ${SCHEMA}.parents WHERE parent_task_id = $1`, [parentTaskId]);
    return rows[0]?.location ?? null;
  }

  async archiveIfComplete(parentTaskId: string): Promise<boolean> {
    checkId(parentTaskId);
    let written: { parent: ParentTask; location: Location; archived: boolean } | null = null;
    await this.db.transaction({ what: `archive task ${parentTaskId}`, parentTaskId }, async (sql) => {
      written = null;
      const { parent, location } = await this.readRow(sql, parentTaskId, 'FOR UPDATE');
      if (location !== 'active' || !isParentComplete(parent)) return;
      // The body stays as it is, as a file moved to tasks/archive/ does.
      await sql.query(`UPDATE ${SCHEMA}.parents SET location = 'archive', summary = $2 WHERE parent_task_id = $1`, [parentTaskId, summarize(parent, 'archive')]);
      written = { parent, location: 'archive', archived: true };
    });
    this.afterCommit(written);
    return written !== null;
  }

  async parentsOfSubtask(subtaskId: string): Promise<string[]> {
    if (!isValidTaskId(subtaskId)) return [];
    const rows = await this.db.query<{ parent_task_id: string }>({ what: `look up subtask ${subtaskId}` }, `SELECT parent_task_id FROM ${SCHEMA}.subtasks WHERE subtask_id = $1 ORDER BY parent_task_id`, [subtaskId]);
    return rows.map((r) => r.parent_task_id);
  }

  async list(options: { includeArchived: boolean }): Promise<ParentSummary[]> {
    await this.refresh(options.includeArchived);
    return this.cache.list(options.includeArchived);
  }

  async statistics(options: { includeArchived: boolean }): Promise<StoreStatistics> {
    await this.refresh(options.includeArchived);
    return this.cache.statistics(options.includeArchived);
  }

  problems(): StoreProblem[] {
    return this.cache.problems();
  }

  async saveDocument(parentTaskId: string, subtaskId: string, text: string, number: number): Promise<string> {
    const path = `tasks/work/${parentTaskId}/${subtaskId}.${number}.md`;
    const save = (sql: Sql) =>
      sql.query(`INSERT INTO ${SCHEMA}.documents (parent_task_id, subtask_id, number, path, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (parent_task_id, subtask_id, number) DO UPDATE SET body = excluded.body, path = excluded.path, stored_at = now()`, [parentTaskId, subtaskId, number, path, text]);
    // Called from the change() of update(): stored in the same transaction, so it commits with the task or not at all.
    const open = this.changes.getStore();
    if (open && open.parentTaskId === parentTaskId) await save(open.sql);
    else await this.db.transaction({ what: `store the detailed work of ${subtaskId}`, parentTaskId }, save);
    return path;
  }

  async removeArchived(parentTaskIds: readonly string[]): Promise<string[]> {
    const ids = [...new Set(parentTaskIds)];
    const invalid = ids.filter((id) => !isValidTaskId(id));
    if (invalid.length) throw notRemovable(invalid);
    const removed = await this.db.transaction({ what: 'remove archived tasks' }, async (sql) => {
      const { rows } = await sql.query<{ parent_task_id: string; body: string; location: Location }>(`SELECT parent_task_id, body, location FROM ${SCHEMA}.parents WHERE parent_task_id = ANY($1::text[]) FOR UPDATE`, [ids]);
      // Judged from the body, not the status column: a row edited by hand is never deleted on its word.
      const refused = rows.filter((r) => { const parsed = parseTaskFile(r.body); return r.location !== 'archive' || !parsed.ok || !isParentComplete(parsed.value); }).map((r) => r.parent_task_id);
      if (refused.length) throw notRemovable(refused);
      const found = rows.map((r) => r.parent_task_id);
      await sql.query(`DELETE FROM ${SCHEMA}.documents WHERE parent_task_id = ANY($1::text[])`, [found]);
      await sql.query(`DELETE FROM ${SCHEMA}.parents WHERE parent_task_id = ANY($1::text[])`, [found]);
      return found;
    });
    await this.refresh(true);
    return removed.sort();
  }

  async readDocument(path: string): Promise<string | null> {
    const rows = await this.db.query<{ body: string }>({ what: `read ${path}` }, `SELECT body FROM ${SCHEMA}.documents WHERE path = $1`, [path]);
    return rows[0]?.body ?? null;
  }

  /** The team's role files (default_roles.yaml, custom_roles.yaml, templates/<name>.md) as stored. */
  async roleFiles(): Promise<Map<string, string>> {
    return this.db.read({ what: 'read the team\'s role files' }, (sql) => readRoleFiles(sql));
  }

  /** Where the team's role files came from (seeded by a server's project, or pushed), null before any. */
  async roleFilesOrigin(): Promise<RoleFilesOrigin | null> {
    return this.db.read({ what: 'read the team\'s role files' }, (sql) => rolesOrigin(sql));
  }

  /** Replaces the team's role files with these, at once (under the schema's advisory lock, like the seeding). */
  async pushRoleFiles(files: ReadonlyMap<string, string>, origin: RoleFilesOrigin): Promise<void> {
    await this.db.transaction({ what: 'replace the team\'s role files' }, async (sql) => {
      await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
      await replaceRoleFiles(sql, files, origin);
    });
    this.logger.info(`Replaced the team's role files in ${this.db.label}`, { files: [...files.keys()] });
  }

  /**
   * What the health check needs from the database, looked at afresh: the schema's version, every row
   * that cannot be used (its body edited outside the store and no longer a task, or from a newer
   * version), and completed parents still active (a row edited by hand: a server archives in the commit
   * that completes).
   */
  async health(): Promise<{ schemaVersion: number; unusableRows: StoreProblem[]; unarchived: string[] }> {
    return this.db.read({ what: 'check the tasks' }, async (sql) => {
      const schemaVersion = await installedVersion(sql);
      const edited = await sql.query<{ parent_task_id: string }>(`SELECT parent_task_id FROM ${SCHEMA}.parents WHERE body_sha256 <> sha256(convert_to(body, 'UTF8')) ORDER BY parent_task_id`);
      // The rows edited outside the store, and those found unusable by a read (a newer version's body, say).
      const suspects = new Set([...edited.rows.map((r) => r.parent_task_id), ...this.cache.problems().map((p) => p.parent_task_id!)]);
      const unusable: StoreProblem[] = [];
      for (const id of suspects) {
        const checked = await this.checkRow(sql, id);
        if (checked && 'problem' in checked) unusable.push(checked.problem);
      }
      const unarchived = await sql.query<{ parent_task_id: string }>(`SELECT parent_task_id FROM ${SCHEMA}.parents WHERE location = 'active' AND status = 'completed' ORDER BY parent_task_id`);
      return { schemaVersion, unusableRows: unusable, unarchived: unarchived.rows.map((r) => r.parent_task_id) };
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Brings the listings up to date with every server's writes. */
  private refresh(includeArchived: boolean): Promise<void> {
    return this.cache.refresh((work) => this.db.read({ what: 'list the tasks' }, work), includeArchived);
  }

  /** Seeds the team's roles from the first server's project files, when the database has none yet. */
  private async seedRoles(sql: Sql, seed: NonNullable<PostgresStoreOptions['seedRoles']>): Promise<void> {
    if ((await rolesOrigin(sql)) !== null) return;
    await replaceRoleFiles(sql, seed.files, seed.origin);
    this.logger.info(`Seeded the team's role files in ${this.db.label} from ${seed.origin.from}`, { files: [...seed.files.keys()] });
  }

  /** Inserts a parent (and its subtask ids) unless its id is taken; true when inserted. */
  private async insert(sql: Sql, parent: ParentTask, location: Location): Promise<boolean> {
    const { rowCount } = await sql.query(
      `INSERT INTO ${SCHEMA}.parents (parent_task_id, location, status, title, created_at, updated_at, revision, body, body_sha256, summary)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, sha256(convert_to($8, 'UTF8')), $9) ON CONFLICT (parent_task_id) DO NOTHING`,
      rowValues(parent, location),
    );
    if (rowCount !== 1) return false;
    await this.indexSubtasks(sql, parent, false);
    return true;
  }

  private async write(sql: Sql, parent: ParentTask, location: Location): Promise<void> {
    await sql.query(
      `UPDATE ${SCHEMA}.parents SET location = $2, status = $3, title = $4, created_at = $5, updated_at = $6, revision = $7, body = $8, body_sha256 = sha256(convert_to($8, 'UTF8')), summary = $9
       WHERE parent_task_id = $1`,
      rowValues(parent, location),
    );
  }

  private async indexSubtasks(sql: Sql, parent: ParentTask, replace: boolean): Promise<void> {
    if (replace) await sql.query(`DELETE FROM ${SCHEMA}.subtasks WHERE parent_task_id = $1`, [parent.parent_task_id]);
    const ids = [...new Set(parent.subtasks.map((s) => s.task_id))];
    if (ids.length) await sql.query(`INSERT INTO ${SCHEMA}.subtasks (subtask_id, parent_task_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`, [ids, parent.parent_task_id]);
  }

  /** A parent's row, parsed; `lock` 'FOR UPDATE' inside a change. A row that does not parse is reported and refused, never rewritten. */
  private async readRow(sql: Sql, parentTaskId: string, lock: '' | 'FOR UPDATE'): Promise<{ parent: ParentTask; location: Location }> {
    const rows = lock ? await this.lockedRow(sql, parentTaskId) : (await sql.query<{ body: string; location: Location }>(`SELECT body, location FROM ${SCHEMA}.parents WHERE parent_task_id = $1`, [parentTaskId])).rows;
    const row = rows[0];
    if (!row) throw new OrchestratorError('TASK_NOT_FOUND', `No task ${parentTaskId} in the database ${this.db.label}. Call orchestrator_get_status to list the task ids.`, { parent_task_id: parentTaskId });
    const checked = this.parseRow(parentTaskId, row.body, row.location);
    if ('problem' in checked) {
      this.cache.noteProblem(parentTaskId, checked.problem);
      const code = checked.problem.kind === 'unsupported_version' ? 'UNSUPPORTED_VERSION' : 'STORE_CORRUPT';
      throw new OrchestratorError(code, `Task ${parentTaskId} cannot be used: its row in ${this.db.label} ${checked.problem.reason}. The row was kept as it is. ${checked.problem.action}`, { parent_task_id: parentTaskId, reason: checked.problem.reason });
    }
    return checked;
  }

  /**
   * A parent's row, locked for this transaction, waiting at most the lock timeout for another server to
   * let go of it. lock_timeout alone does not bound that wait: it counts each wait afresh, and a call
   * queued behind others waits once per call before it, until the statement timeout cancels it. So this
   * statement runs with the lock timeout as its statement timeout, and either ending is LOCK_TIMEOUT.
   * The statement sets the usual timeout back for the rest of the transaction (set_config(..., true)
   * applies from the next statement on), which saves a round trip on every change.
   */
  private async lockedRow(sql: Sql, parentTaskId: string): Promise<{ body: string; location: Location }[]> {
    const { statementTimeoutMs, lockTimeoutMs } = this.db.timeouts;
    await sql.query(`SET LOCAL statement_timeout = ${Math.trunc(lockTimeoutMs)}`);
    try {
      const { rows } = await sql.query<{ body: string; location: Location }>(
        `SELECT body, location, set_config('statement_timeout', $2, true) FROM ${SCHEMA}.parents WHERE parent_task_id = $1 FOR UPDATE`,
        [parentTaskId, String(Math.trunc(statementTimeoutMs))],
      );
      return rows;
    } catch (error) {
      const state = sqlState(error);
      throw state === '57014' || state === '55P03' ? new LockWaitTimedOut(error) : error;
    }
  }

  /** For the listings: a row whose body was changed outside the store, checked again. */
  private async checkRow(sql: Sql, parentTaskId: string): Promise<{ parent: ParentTask; location: Location } | { problem: StoreProblem } | null> {
    const { rows } = await sql.query<{ body: string; location: Location }>(`SELECT body, location FROM ${SCHEMA}.parents WHERE parent_task_id = $1`, [parentTaskId]);
    const row = rows[0];
    return row ? this.parseRow(parentTaskId, row.body, row.location) : null;
  }

  private parseRow(parentTaskId: string, body: string, location: Location): { parent: ParentTask; location: Location } | { problem: StoreProblem } {
    const parsed = parseTaskFile(body);
    const problem = (kind: StoreProblem['kind'], reason: string, action: string) => ({ problem: { file: `database ${this.db.label}, ${SCHEMA}.parents ${parentTaskId}`, parent_task_id: parentTaskId, kind, reason, action } });
    if (!parsed.ok && parsed.code === 'UNSUPPORTED_VERSION') return problem('unsupported_version', parsed.message, 'Upgrade task-orchestrator; this server leaves the row untouched.');
    if (!parsed.ok) return problem('corrupt', `does not parse: ${parsed.message}`, `Correct its body by hand (UPDATE ${SCHEMA}.parents SET body = ... WHERE parent_task_id = '${parentTaskId}') or restore it from a backup. It is never deleted.`);
    if (parsed.value.parent_task_id !== parentTaskId) {
      return problem('misplaced', `holds parent_task_id "${truncate(parsed.value.parent_task_id, 60)}", not "${parentTaskId}"`, 'Correct parent_task_id in its body, or the row\'s key.');
    }
    return { parent: parsed.value, location };
  }

  private afterCommit(written: { parent: ParentTask; location: Location; archived: boolean } | null): void {
    if (!written) return;
    this.cache.noteWritten(written.parent, written.location);
    if (written.archived) this.logger.info(`Archived completed task ${written.parent.parent_task_id}`, { parent_task_id: written.parent.parent_task_id });
  }

  /** Removes keys older than a day and the oldest beyond PLAN_KEYS_KEPT; at most hourly per process. */
  private async sweepPlanKeysNowAndThen(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPlanKeySweep < PLAN_KEY_SWEEP_INTERVAL_MS) return;
    this.lastPlanKeySweep = now;
    try {
      await this.sweepPlanKeys();
    } catch (error) {
      this.logger.warn(`Could not sweep old idempotency keys in ${this.db.label}: ${(error as Error).message}`);
    }
  }

  /** Removes expired plan_task keys now; returns how many. */
  async sweepPlanKeys(): Promise<number> {
    return this.db.transaction({ what: 'remove expired idempotency keys' }, async (sql) => {
      const { rowCount } = await sql.query(
        `DELETE FROM ${SCHEMA}.plan_keys WHERE stored_at < now() - $1::bigint * interval '1 millisecond'
            OR key_sha256 IN (SELECT key_sha256 FROM ${SCHEMA}.plan_keys ORDER BY stored_at DESC OFFSET $2)`,
        [KEY_RETENTION_MS, PLAN_KEYS_KEPT],
      );
      if (rowCount) this.logger.info(`Removed ${rowCount} expired idempotency key(s) from ${this.db.label}`);
      return rowCount ?? 0;
    });
  }
}

function notRemovable(ids: readonly string[]): OrchestratorError {
  return new OrchestratorError('INVALID_INPUT', `Only archived, completed tasks can be removed; not ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}. Nothing was removed.`, { parent_task_ids: ids });
}

function checkId(parentTaskId: string): void {
  if (!isValidTaskId(parentTaskId)) throw new OrchestratorError('INVALID_TASK_ID', `"${parentTaskId}" is not a task id.`);
}

/** $1..$9 of an INSERT or UPDATE of a parent's row; the body is exactly the file store's task file. */
function rowValues(parent: ParentTask, location: Location): unknown[] {
  const summary = summarize(parent, location);
  return [parent.parent_task_id, location, summary.status, summary.title, parent.created_at, summary.updated_at, parent.revision ?? 0, serializeTaskFile(parent), summary];
}

/** The subtask ids of a parent, as one string to compare (they change only when a file is edited by hand). */
function subtaskIds(parent: ParentTask): string {
  return parent.subtasks.map((s) => s.task_id).join('\n');
}

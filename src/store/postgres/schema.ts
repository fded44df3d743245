import { OrchestratorError } from '../../domain/errors.js';
import { VERSION } from '../../version.js';
import type { Database, Sql } from './database.js';
import { sqlState } from './database-errors.js';

/** Every table lives in this schema of the database, so that it can share a database with other programs. */
export const SCHEMA = 'task_orchestrator';

/**
 * The key of the advisory lock under which the schema is created and migrated and the team's roles are
 * seeded or replaced: of two servers starting at once, one migrates, the other waits and finds it done.
 * ("task-orc" in ASCII: a constant no other program is likely to pick.)
 */
export const SCHEMA_LOCK_KEY = '8386110885301547619';

interface Migration {
  version: number;
  /** What it adds, recorded beside the version. */
  description: string;
  sql: string;
}

/**
 * The migrations, in order; each runs once, in the transaction that records it. Never edit one that was
 * released: add the next. Every persisted field has its comment in the database (\d+ in psql shows them).
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'parents (with their removals), subtasks, documents, plan keys, role files, meta',
    sql: `
CREATE TABLE ${SCHEMA}.parents (
  parent_task_id text PRIMARY KEY,
  location text NOT NULL CHECK (location IN ('active', 'archive')),
  status text NOT NULL CHECK (status IN ('active', 'completed')),
  title text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL,
  revision bigint NOT NULL,
  body text NOT NULL,
  body_sha256 bytea NOT NULL,
  summary jsonb NOT NULL,
  changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stored_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${SCHEMA}.parents IS 'One row per parent task with its subtasks (tasks/active and tasks/archive of the file store)';
COMMENT ON COLUMN ${SCHEMA}.parents.location IS 'active, or archive once every subtask is completed';
COMMENT ON COLUMN ${SCHEMA}.parents.status IS 'completed when every subtask is completed, else active';
COMMENT ON COLUMN ${SCHEMA}.parents.title IS 'The title listings show (copied from body)';
COMMENT ON COLUMN ${SCHEMA}.parents.created_at IS 'As in body: ISO time (naive local time in Python-era tasks)';
COMMENT ON COLUMN ${SCHEMA}.parents.updated_at IS 'As in body; listings are most recently updated first';
COMMENT ON COLUMN ${SCHEMA}.parents.revision IS 'As in body: incremented on every change';
COMMENT ON COLUMN ${SCHEMA}.parents.body IS 'The task file, byte for byte what the file store writes in tasks/<location>/<id>.json: the truth';
COMMENT ON COLUMN ${SCHEMA}.parents.body_sha256 IS 'sha256 of body as the server wrote it: a body edited by hand no longer matches and is checked again';
COMMENT ON COLUMN ${SCHEMA}.parents.summary IS 'What listings and counts need (ids, titles, statuses, roles, owners, leases), so they never parse body';
COMMENT ON COLUMN ${SCHEMA}.parents.changed_xid IS 'The transaction that last wrote the row (set by trigger): servers refresh their listings from it';
COMMENT ON COLUMN ${SCHEMA}.parents.stored_at IS 'When the row was last written, by the database clock';
CREATE INDEX parents_changed_xid ON ${SCHEMA}.parents (changed_xid);
CREATE INDEX parents_location_updated_at ON ${SCHEMA}.parents (location, updated_at DESC);

-- Any write, by a server or by hand, marks the row changed, so that every server's listing follows it.
CREATE FUNCTION ${SCHEMA}.note_parent_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  NEW.stored_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER parents_note_change BEFORE INSERT OR UPDATE ON ${SCHEMA}.parents FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.note_parent_change();

-- Removals (by hand: servers never delete a parent) are recorded the same way, so that listings drop them.
CREATE TABLE ${SCHEMA}.parent_removals (
  parent_task_id text,
  removed_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  removed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${SCHEMA}.parent_removals IS 'Parents deleted from parents (by hand): every server drops them from its listings';
COMMENT ON COLUMN ${SCHEMA}.parent_removals.parent_task_id IS 'The deleted parent; null for a TRUNCATE (every server reads the listings again)';
COMMENT ON COLUMN ${SCHEMA}.parent_removals.removed_xid IS 'The transaction that deleted it';
CREATE INDEX parent_removals_removed_xid ON ${SCHEMA}.parent_removals (removed_xid);
CREATE FUNCTION ${SCHEMA}.note_parent_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${SCHEMA}.parent_removals (parent_task_id) VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.parent_task_id END);
  RETURN NULL;
END $$;
CREATE TRIGGER parents_note_removal AFTER DELETE ON ${SCHEMA}.parents FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.note_parent_removal();
CREATE TRIGGER parents_note_truncate AFTER TRUNCATE ON ${SCHEMA}.parents FOR EACH STATEMENT EXECUTE FUNCTION ${SCHEMA}.note_parent_removal();

CREATE TABLE ${SCHEMA}.subtasks (
  subtask_id text NOT NULL,
  parent_task_id text NOT NULL REFERENCES ${SCHEMA}.parents ON DELETE CASCADE,
  PRIMARY KEY (subtask_id, parent_task_id)
);
COMMENT ON TABLE ${SCHEMA}.subtasks IS 'Which parent holds a subtask id (Python-era ids may be in several)';

CREATE TABLE ${SCHEMA}.documents (
  parent_task_id text NOT NULL,
  subtask_id text NOT NULL,
  number integer NOT NULL,
  path text NOT NULL UNIQUE,
  body text NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (parent_task_id, subtask_id, number)
);
COMMENT ON TABLE ${SCHEMA}.documents IS 'Long detailed work of subtasks (tasks/work/ of the file store)';
COMMENT ON COLUMN ${SCHEMA}.documents.number IS 'The subtask''s document number: each attempt gets the next one';
COMMENT ON COLUMN ${SCHEMA}.documents.path IS 'tasks/work/<parent>/<subtask>.<number>.md: what detailed_work_file in body names';

CREATE TABLE ${SCHEMA}.plan_keys (
  key_sha256 text PRIMARY KEY,
  args_sha256 text NOT NULL,
  parent_task_id text NOT NULL,
  at text NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${SCHEMA}.plan_keys IS 'orchestrator_plan_task idempotency keys (tasks/idempotency/ of the file store), kept a day';
COMMENT ON COLUMN ${SCHEMA}.plan_keys.key_sha256 IS 'sha256 of the idempotency key';
COMMENT ON COLUMN ${SCHEMA}.plan_keys.args_sha256 IS 'sha256 of the call''s arguments: the same key with others is a conflict';
COMMENT ON COLUMN ${SCHEMA}.plan_keys.parent_task_id IS 'The parent the call creates, chosen before it exists';
COMMENT ON COLUMN ${SCHEMA}.plan_keys.at IS 'When the first call came (ISO time, the server''s clock)';
CREATE INDEX plan_keys_stored_at ON ${SCHEMA}.plan_keys (stored_at);

CREATE TABLE ${SCHEMA}.role_files (
  name text PRIMARY KEY,
  body text NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${SCHEMA}.role_files IS 'The team''s role files: default_roles.yaml, custom_roles.yaml, templates/<name>.md; every server reads them from here';

CREATE TABLE ${SCHEMA}.meta (
  key text PRIMARY KEY,
  value jsonb NOT NULL
);
COMMENT ON TABLE ${SCHEMA}.meta IS 'Facts about the store: "roles" says where the role files came from and when';
`,
  },
];

/** The newest schema this code knows. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

export interface SchemaReport {
  /** The version the database has now. */
  version: number;
  /** The migrations this call applied (empty when another server had already done it). */
  applied: number[];
}

/** How long a starting server waits for the schema's lock (another server migrating, a roles --push) by default. */
export const SCHEMA_LOCK_WAIT_MS = 120_000;

/** What a starting server may have to do under the schema's lock besides migrating: seed the team's roles. */
export interface UnderSchemaLock {
  /** True when `run` has something to do (checked first without the lock, then again under it by `run`). */
  needed(sql: Sql): Promise<boolean>;
  run(sql: Sql): Promise<void>;
}

/**
 * Creates or migrates the schema, and seeds the team's roles (`alsoUnderLock`), under the advisory lock.
 * The version is read first without it: a database already up to date, as it is at nearly every start,
 * needs no lock, so a roles --push or another server's long migration does not hold this start up. The
 * lock, when needed, is waited for `lockWaitMs` (a migration takes longer than a task's change), with a
 * refusal of its own. A database whose schema is newer than this code knows is refused.
 */
export async function prepareSchema(db: Database, alsoUnderLock?: UnderSchemaLock, lockWaitMs = SCHEMA_LOCK_WAIT_MS): Promise<SchemaReport> {
  const upToDate = await db.read({ what: 'read the task_orchestrator schema\'s version' }, async (sql) => {
    const current = await installedVersion(sql);
    if (current > SCHEMA_VERSION) throw newerSchema(db.label, current);
    return current === SCHEMA_VERSION && !(alsoUnderLock && (await alsoUnderLock.needed(sql)));
  });
  if (upToDate) return { version: SCHEMA_VERSION, applied: [] };
  return db.transaction({ what: 'prepare the task_orchestrator schema' }, async (sql) => {
    await takeSchemaLock(sql, db.label, lockWaitMs);
    const current = await installedVersion(sql);
    if (current > SCHEMA_VERSION) throw newerSchema(db.label, current);
    if (current === 0) await createSchemaIfMissing(sql);
    const applied: number[] = [];
    for (const migration of MIGRATIONS.filter((m) => m.version > current)) {
      await sql.query(migration.sql);
      await sql.query(`INSERT INTO ${SCHEMA}.schema_version (version, description, applied_by) VALUES ($1, $2, $3)`, [migration.version, migration.description, `task-orchestrator ${VERSION}`]);
      applied.push(migration.version);
    }
    if (alsoUnderLock) await alsoUnderLock.run(sql);
    return { version: Math.max(current, SCHEMA_VERSION), applied };
  });
}

/**
 * The schema's advisory lock, waited for `waitMs` rather than a task's lock timeout; the migration after
 * it may run as long (a large table altered), so the transaction's statements get that long too.
 */
async function takeSchemaLock(sql: Sql, label: string, waitMs: number): Promise<void> {
  const ms = Math.max(1, Math.trunc(waitMs));
  await sql.query(`SET LOCAL lock_timeout = ${ms}; SET LOCAL statement_timeout = ${ms}`);
  try {
    await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
  } catch (error) {
    const state = sqlState(error);
    if (state !== '55P03' && state !== '57014') throw error;
    throw new OrchestratorError(
      'LOCK_TIMEOUT',
      `Another task-orchestrator held the lock of the task_orchestrator schema in the database ${label} for over ${ms} ms (it migrates the schema, or replaces the team's role files with "roles --push"), so this server could not prepare the schema to start. Nothing was changed. Start again once it has finished; if none is running, look for the session holding the advisory lock ${SCHEMA_LOCK_KEY} in pg_locks.`,
      { database: label, retryable: true },
    );
  }
}

/** The schema's version, 0 when there is none yet. */
export async function installedVersion(sql: Sql): Promise<number> {
  // Read from the catalog tables, not by name (to_regclass): a name looked up and not found is
  // remembered by the session, and would still be "not found" under the schema's lock after another
  // server created the schema while this one waited (the session learns of it at its next transaction).
  const table = await sql.query<{ exists: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${SCHEMA}' AND c.relname = 'schema_version') AS exists`,
  );
  if (!table.rows[0]!.exists) return 0;
  const { rows } = await sql.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${SCHEMA}.schema_version`);
  return rows[0]!.version ?? 0;
}

async function createSchemaIfMissing(sql: Sql): Promise<void> {
  // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
  const { rows } = await sql.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [SCHEMA]);
  if (rows.length === 0) await sql.query(`CREATE SCHEMA ${SCHEMA}`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_version (
  version integer PRIMARY KEY,
  description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL
)`);
  await sql.query(`COMMENT ON TABLE ${SCHEMA}.schema_version IS 'One row per migration applied; the highest is the schema''s version'`);
}

function newerSchema(label: string, version: number): OrchestratorError {
  return new OrchestratorError(
    'UNSUPPORTED_VERSION',
    `The database ${label} holds task-orchestrator schema version ${version}, newer than this task-orchestrator (${VERSION}) knows (up to ${SCHEMA_VERSION}): a newer server migrated it. Nothing was changed. Upgrade task-orchestrator on this machine to the version the rest of the team runs.`,
    { database: label, schema_version: version, known_schema_version: SCHEMA_VERSION },
  );
}

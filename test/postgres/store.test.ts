import assert from 'node:assert/strict';
import pg from 'pg';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '../../src/app/ports.js';
import { OrchestratorError } from '../../src/domain/errors.js';
import type { ParentTask } from '../../src/domain/model.js';
import { serializeTaskFile } from '../../src/domain/task-file.js';
import { silentLogger } from '../../src/logging/logger.js';
import { PostgresTaskStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-task-store.js';
import { SCHEMA_LOCK_KEY } from '../../src/store/postgres/schema.js';
import { parentWith, subtask } from '../unit/builders.js';
import { freshDatabase, skipWithoutPostgres, type TestDatabase } from './db.js';

export function storeOptions(url: string, overrides: Partial<PostgresStoreOptions> = {}): PostgresStoreOptions {
  return { url, poolSize: 4, statementTimeoutMs: 15_000, lockTimeoutMs: 5_000, idleInTransactionMs: 30_000, logger: silentLogger, ...overrides };
}

const plan = (id: string, statuses: ('pending' | 'completed' | 'active')[] = ['pending', 'pending']): ParentTask =>
  parentWith(
    statuses.map((status, i) => subtask(`${id}.${i + 1}`, { status })),
    { parent_task_id: id, title: `Parent ${id}`, updated_at: '2025-06-01T12:00:00.000Z' },
  );

const complete = (parent: ParentTask): ParentTask => ({ ...parent, status: 'completed', subtasks: parent.subtasks.map((s) => ({ ...s, status: 'completed', results: 'done' })) });

/** How many rows the listings' refresh queries return while `run` runs (counted on the store's own connections). */
async function rowsReadByRefresh(store: PostgresTaskStore, run: () => Promise<unknown>): Promise<number> {
  const read = store.db.read.bind(store.db);
  let rows = 0;
  store.db.read = (context, work) =>
    read(context, (sql) =>
      work({
        query: (async (...args: Parameters<typeof sql.query>) => {
          const result = await (sql.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args);
          if (context.what === 'list the tasks') rows += result.rows.length;
          return result;
        }) as typeof sql.query,
      }),
    );
  try {
    await run();
  } finally {
    store.db.read = read;
  }
  return rows;
}

describe('PostgresTaskStore', skipWithoutPostgres, () => {
  let db: TestDatabase;
  let store: PostgresTaskStore;
  /** A second server on the same database: what one writes, the other must list. */
  let other: PostgresTaskStore;

  before(async () => {
    db = await freshDatabase();
    store = await PostgresTaskStore.open(storeOptions(db.url));
    other = await PostgresTaskStore.open(storeOptions(db.url));
  });
  after(async () => {
    await store?.close();
    await other?.close();
    await db?.drop();
  });

  test('create draws a fresh task_ id; the row holds exactly the task file the file store would write', async () => {
    const parent = await store.create((id) => plan(id));
    assert.match(parent.parent_task_id, /^task_[0-9a-f]{10}$/);
    const [row] = await db.query(`SELECT body, location, status, revision FROM task_orchestrator.parents WHERE parent_task_id = $1`, [parent.parent_task_id]);
    assert.equal(row!.body, serializeTaskFile(parent));
    assert.deepEqual({ location: row!.location, status: row!.status, revision: row!.revision }, { location: 'active', status: 'active', revision: '0' });
    assert.deepEqual(await store.read(parent.parent_task_id), parent);
    assert.deepEqual(await store.parentsOfSubtask(`${parent.parent_task_id}.2`), [parent.parent_task_id]);
    assert.equal(await store.locationOf(parent.parent_task_id), 'active');
  });

  test('update: one transaction that bumps the revision; a change that throws or returns the parent unchanged writes nothing', async () => {
    const { parent_task_id: id } = await store.create((i) => plan(i));
    const changed = await store.update(id, (p) => ({ ...p, context: 'changed' }));
    assert.equal(changed.revision, 1);
    assert.equal((await other.read(id)).context, 'changed');
    await assert.rejects(
      store.update(id, () => {
        throw new OrchestratorError('INVALID_TRANSITION', 'no');
      }),
      /no/,
    );
    const same = await store.update(id, (p) => p);
    assert.equal(same.revision, 1);
    const [row] = await db.query(`SELECT revision, body FROM task_orchestrator.parents WHERE parent_task_id = $1`, [id]);
    assert.equal(row!.revision, '1');
    assert.equal(row!.body, serializeTaskFile(changed));
  });

  test('concurrent updates of one parent from two stores lose nothing (each waits for the row lock)', async () => {
    const { parent_task_id: id } = await store.create((i) => plan(i));
    const bump = (s: PostgresTaskStore) => s.update(id, (p) => ({ ...p, context: `${p.context}x` }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? store : other)));
    const final = await store.read(id);
    assert.equal(final.context, 'x'.repeat(20));
    assert.equal(final.revision, 20);
  });

  test('completing the last subtask archives the parent in the same commit; every store lists it there', async () => {
    const { parent_task_id: id } = await store.create((i) => plan(i));
    await other.list({ includeArchived: true }); // loaded before the change: the change must reach it
    const done = await store.update(id, complete);
    assert.equal(await store.locationOf(id), 'archive');
    const [row] = await db.query(`SELECT body, location FROM task_orchestrator.parents WHERE parent_task_id = $1`, [id]);
    assert.deepEqual(row, { body: serializeTaskFile(done), location: 'archive' });
    for (const s of [store, other]) {
      assert.ok(!(await s.list({ includeArchived: false })).some((p) => p.parent_task_id === id));
      const archived = (await s.list({ includeArchived: true })).find((p) => p.parent_task_id === id);
      assert.deepEqual([archived?.location, archived?.status, archived?.description], ['archive', 'completed', '']);
    }
    assert.equal(await store.archiveIfComplete(id), false, 'already archived');
  });

  test('list and statistics follow another server\'s writes, ordered most recently updated first', async () => {
    const a = await other.create((id) => ({ ...plan(id, ['active', 'pending']), updated_at: '2030-01-01T00:00:00.000Z' }));
    const listed = await store.list({ includeArchived: false });
    assert.equal(listed[0]!.parent_task_id, a.parent_task_id);
    const stats = await store.statistics({ includeArchived: false });
    assert.ok(stats.withActiveSubtasks.some((p) => p.parent_task_id === a.parent_task_id));
    const before = stats.counts.active;
    await other.update(a.parent_task_id, (p) => ({ ...p, subtasks: p.subtasks.map((s) => ({ ...s, status: 'pending' as const })) }));
    const afterStats = await store.statistics({ includeArchived: false });
    assert.equal(afterStats.counts.active, before - 1);
    assert.ok(!afterStats.withActiveSubtasks.some((p) => p.parent_task_id === a.parent_task_id));
    assert.equal(afterStats.parents.active, (await db.query(`SELECT count(*)::int AS n FROM task_orchestrator.parents WHERE location = 'active'`))[0]!.n);
  });

  test('a change committed after a later one (out of order) still reaches every listing', async () => {
    const slow = await store.create((id) => plan(id));
    const fast = await store.create((id) => plan(id));
    await other.list({ includeArchived: false });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // A transaction that writes first and commits last, as a slow server's would.
      await client.query('BEGIN');
      await client.query(`UPDATE task_orchestrator.parents SET summary = jsonb_set(summary, '{title}', '"Slow title"') WHERE parent_task_id = $1`, [slow.parent_task_id]);
      await store.update(fast.parent_task_id, (p) => ({ ...p, title: 'Fast title' }));
      const listed = await other.list({ includeArchived: false });
      assert.equal(listed.find((p) => p.parent_task_id === fast.parent_task_id)?.title, 'Fast title');
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const listed = await other.list({ includeArchived: false });
    assert.equal(listed.find((p) => p.parent_task_id === slow.parent_task_id)?.title, 'Slow title');
  });

  test('while a transaction stays open elsewhere, a listing reads only the rows written since the last one', async () => {
    await other.list({ includeArchived: false });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // An open transaction with an id (an idle psql, another program): it holds the cluster's xmin back.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_current_xact_id()');
      const written = await Promise.all(Array.from({ length: 30 }, () => store.create((id) => plan(id))));
      const first = await rowsReadByRefresh(other, () => other.list({ includeArchived: false }));
      assert.ok(first >= written.length, `the new rows are read (${first})`);
      await store.update(written[0]!.parent_task_id, (p) => ({ ...p, title: 'Renamed' }));
      const second = await rowsReadByRefresh(other, async () => {
        const listed = await other.list({ includeArchived: false });
        assert.equal(listed.find((p) => p.parent_task_id === written[0]!.parent_task_id)?.title, 'Renamed');
      });
      assert.ok(second <= 2, `only the changed row and the closing line are read again, not the ${written.length} written since the open transaction began (${second})`);
    } finally {
      await holder.end();
    }
  });

  test('listings asked for at once share the refreshes: the one running, then one for all that came meanwhile', async () => {
    await store.create((id) => plan(id));
    const read = other.db.read.bind(other.db);
    let refreshes = 0;
    other.db.read = (context, work) => {
      if (context.what === 'list the tasks') refreshes++;
      return read(context, work);
    };
    try {
      const listed = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? other.list({ includeArchived: false }) : other.statistics({ includeArchived: i === 4 }))));
      assert.equal(listed.length, 10);
    } finally {
      other.db.read = read;
    }
    assert.equal(refreshes, 2);
  });

  test('a row removed by hand leaves every listing; a body edited by hand is followed, and one that does not parse is reported and kept', async () => {
    const gone = await store.create((id) => plan(id));
    const edited = await store.create((id) => plan(id));
    const broken = await store.create((id) => plan(id));
    await other.list({ includeArchived: false });
    await db.query(`DELETE FROM task_orchestrator.parents WHERE parent_task_id = $1`, [gone.parent_task_id]);
    await db.query(`UPDATE task_orchestrator.parents SET body = $2 WHERE parent_task_id = $1`, [edited.parent_task_id, serializeTaskFile({ ...edited, title: 'Retitled by hand' })]);
    await db.query(`UPDATE task_orchestrator.parents SET body = '{"not": "a task"' WHERE parent_task_id = $1`, [broken.parent_task_id]);
    for (const s of [store, other]) {
      const listed = await s.list({ includeArchived: false });
      assert.ok(!listed.some((p) => p.parent_task_id === gone.parent_task_id), 'removed row listed');
      assert.equal(listed.find((p) => p.parent_task_id === edited.parent_task_id)?.title, 'Retitled by hand');
      assert.ok(!listed.some((p) => p.parent_task_id === broken.parent_task_id), 'unparseable row listed');
      const problem = s.problems().find((p) => p.parent_task_id === broken.parent_task_id);
      assert.equal(problem?.kind, 'corrupt');
    }
    await assert.rejects(store.read(broken.parent_task_id), (error: OrchestratorError) => error.code === 'STORE_CORRUPT' && /does not parse/.test(error.message));
    await assert.rejects(store.update(broken.parent_task_id, (p) => p), (error: OrchestratorError) => error.code === 'STORE_CORRUPT');
    assert.equal((await db.query(`SELECT body FROM task_orchestrator.parents WHERE parent_task_id = $1`, [broken.parent_task_id]))[0]!.body, '{"not": "a task"', 'kept as it was');
    const health = await store.health();
    assert.deepEqual(health.unusableRows.map((p) => p.parent_task_id), [broken.parent_task_id]);
    await db.query(`UPDATE task_orchestrator.parents SET body = $2 WHERE parent_task_id = $1`, [broken.parent_task_id, serializeTaskFile(broken)]);
    assert.ok((await store.list({ includeArchived: false })).some((p) => p.parent_task_id === broken.parent_task_id), 'listed again once mended');
    assert.ok(!store.problems().some((p) => p.parent_task_id === broken.parent_task_id));
  });

  test('createWithId and importParent never overwrite; subtask ids reused across parents name every holder', async () => {
    const first = plan('task_00000000aa');
    assert.deepEqual(await store.createWithId(first), { parent: first, created: true });
    const again = await other.createWithId({ ...first, context: 'another' });
    assert.deepEqual(again, { parent: first, created: false });
    const python = (id: string) => parentWith([subtask('architect_1a2b3c', { status: 'completed', results: 'r' })], { parent_task_id: id, version: '1.0' });
    assert.equal(await store.importParent(python('task_py_one'), 'archive'), true);
    assert.equal(await store.importParent(python('task_py_two'), 'active'), true);
    assert.equal(await other.importParent(python('task_py_one'), 'active'), false);
    assert.equal(await store.locationOf('task_py_one'), 'archive');
    assert.deepEqual(await other.parentsOfSubtask('architect_1a2b3c'), ['task_py_one', 'task_py_two']);
    assert.deepEqual(await store.parentsOfSubtask('nothing_like_it'), []);
  });

  test('plan keys: one record per key across servers, the first one kept', async () => {
    const key = 'a'.repeat(64);
    const proposals = Array.from({ length: 6 }, (_, i) => ({ args_sha256: 'b'.repeat(64), parent_task_id: `task_000000000${i}`, at: new Date().toISOString() }));
    const records = await Promise.all(proposals.map((p, i) => (i % 2 ? store : other).reservePlanKey(key, p)));
    assert.equal(new Set(records.map((r) => r.parent_task_id)).size, 1);
    assert.deepEqual(await store.reservePlanKey(key, { ...proposals[0]!, parent_task_id: 'task_ffffffffff' }), records[0]);
    await db.query(`UPDATE task_orchestrator.plan_keys SET stored_at = now() - interval '25 hours' WHERE key_sha256 = $1`, [key]);
    assert.equal(await store.sweepPlanKeys(), 1);
    assert.equal((await store.reservePlanKey(key, { ...proposals[0]!, parent_task_id: 'task_eeeeeeeeee' })).parent_task_id, 'task_eeeeeeeeee');
  });

  test('documents saved by a change commit with it, or not at all; read back by the path the file store would return', async () => {
    const { parent_task_id: id } = await store.create((i) => plan(i));
    let path = '';
    await store.update(id, async (p) => {
      path = await store.saveDocument(id, `${id}.1`, 'long work', 1);
      return { ...p, subtasks: p.subtasks.map((s, i) => (i === 0 ? { ...s, detailed_work_file: path } : s)) };
    });
    assert.equal(path, `tasks/work/${id}/${id}.1.1.md`);
    assert.equal(await other.readDocument(path), 'long work');
    await assert.rejects(
      store.update(id, async () => {
        await store.saveDocument(id, `${id}.2`, 'never stored', 1);
        throw new OrchestratorError('INVALID_TRANSITION', 'refused after the document');
      }),
      /refused after the document/,
    );
    assert.equal(await store.readDocument(`tasks/work/${id}/${id}.2.1.md`), null);
  });

  test('a connection lost inside change(), under saveDocument, runs the change again on another one', async () => {
    const { parent_task_id: id } = await store.create((i) => plan(i));
    let runs = 0;
    const updated = await store.update(id, async (p) => {
      if (++runs === 1) {
        // A database restart or a network cut at that moment: the session of this very transaction ends.
        const ended = await db.query(`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);
        assert.equal(ended.length, 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const path = await store.saveDocument(id, `${id}.1`, `work of run ${runs}`, 1);
      return { ...p, context: path };
    });
    assert.deepEqual([runs, updated.context], [2, `tasks/work/${id}/${id}.1.1.md`]);
    assert.equal(await other.readDocument(updated.context), 'work of run 2');
    assert.equal((await other.read(id)).context, updated.context);
  });

  test('TASK_NOT_FOUND and INVALID_TASK_ID as the file store says them', async () => {
    await assert.rejects(store.read('task_0000000000'), (error: OrchestratorError) => error.code === 'TASK_NOT_FOUND');
    await assert.rejects(store.update('task_0000000000', (p) => p), (error: OrchestratorError) => error.code === 'TASK_NOT_FOUND');
    await assert.rejects(store.read('../etc'), (error: OrchestratorError) => error.code === 'INVALID_TASK_ID');
    assert.equal(await store.locationOf('../etc'), null);
  });
});

describe('the team\'s roles in the database', skipWithoutPostgres, () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('seeded from the first server\'s files when there are none, never by a later server; a push replaces them all', async () => {
    const seed = (text: string) => ({ files: new Map([['custom_roles.yaml', text]]), origin: { how: 'seeded' as const, from: '/first', host: 'h', at: 'now' } });
    const first = await PostgresTaskStore.open(storeOptions(db.url, { seedRoles: seed('first: {}\n') }));
    const second = await PostgresTaskStore.open(storeOptions(db.url, { seedRoles: seed('second: {}\n') }));
    try {
      assert.deepEqual(await second.roleFiles(), new Map([['custom_roles.yaml', 'first: {}\n']]));
      assert.equal((await second.roleFilesOrigin())?.from, '/first');
      await second.pushRoleFiles(new Map([['default_roles.yaml', 'd'], ['templates/architect.md', 't']]), { how: 'pushed', from: '/second', host: 'h', at: 'later' });
      assert.deepEqual(await first.roleFiles(), new Map([['default_roles.yaml', 'd'], ['templates/architect.md', 't']]));
      assert.equal((await first.roleFilesOrigin())?.how, 'pushed');
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe('the schema', skipWithoutPostgres, () => {
  test('servers starting at once on an empty database migrate it once', async () => {
    const db = await freshDatabase();
    const stores: PostgresTaskStore[] = [];
    try {
      const opened = await Promise.allSettled(Array.from({ length: 8 }, () => PostgresTaskStore.open(storeOptions(db.url, { poolSize: 1 }))));
      for (const result of opened) if (result.status === 'fulfilled') stores.push(result.value);
      assert.deepEqual(opened.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
      assert.deepEqual(await db.query(`SELECT version FROM task_orchestrator.schema_version`), [{ version: 1 }]);
      assert.equal(stores.filter((s) => s.schema!.applied.length > 0).length, 1, 'exactly one of them applied the migration');
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  });

  test('a schema newer than this code knows is refused, saying which and what to do', async () => {
    const db = await freshDatabase();
    try {
      await (await PostgresTaskStore.open(storeOptions(db.url))).close();
      await db.query(`INSERT INTO task_orchestrator.schema_version (version, description, applied_by) VALUES (99, 'from the future', 'task-orchestrator 9.0.0')`);
      await assert.rejects(PostgresTaskStore.open(storeOptions(db.url)), (error: OrchestratorError) => {
        assert.equal(error.code, 'UNSUPPORTED_VERSION');
        assert.match(error.message, /schema version 99, newer than this task-orchestrator .* knows \(up to 1\).*Upgrade task-orchestrator/);
        return true;
      });
    } finally {
      await db.drop();
    }
  });

  test('the schema\'s lock held (a roles --push, a migration): a start on an up-to-date database does not wait for it; one that must migrate waits its own time and says why', async () => {
    const db = await freshDatabase();
    const holder = new pg.Client({ connectionString: db.url });
    try {
      const seed = { files: new Map([['custom_roles.yaml', 'first: {}\n']]), origin: { how: 'seeded' as const, from: '/first', host: 'h', at: 'now' } };
      await (await PostgresTaskStore.open(storeOptions(db.url, { seedRoles: seed }))).close();
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock('${SCHEMA_LOCK_KEY}'::bigint)`);
      const started = Date.now();
      const store = await PostgresTaskStore.open(storeOptions(db.url, { seedRoles: seed, lockTimeoutMs: 200, schemaLockWaitMs: 5_000 }));
      await store.close();
      assert.ok(Date.now() - started < 2_000, 'opened without waiting for the lock');

      const empty = await freshDatabase();
      const emptyHolder = new pg.Client({ connectionString: empty.url });
      try {
        await emptyHolder.connect();
        await emptyHolder.query('BEGIN');
        await emptyHolder.query(`SELECT pg_advisory_xact_lock('${SCHEMA_LOCK_KEY}'::bigint)`);
        const waiting = Date.now();
        await assert.rejects(PostgresTaskStore.open(storeOptions(empty.url, { lockTimeoutMs: 100, statementTimeoutMs: 200, schemaLockWaitMs: 800 })), (error: OrchestratorError) => {
          assert.equal(error.code, 'LOCK_TIMEOUT');
          assert.match(error.message, /^Another task-orchestrator held the lock of the task_orchestrator schema .* for over 800 ms \(it migrates the schema, or replaces the team's role files/);
          return true;
        });
        assert.ok(Date.now() - waiting >= 750, 'waited the schema lock\'s own time, not the lock or statement timeout');
      } finally {
        await emptyHolder.end();
        await empty.drop();
      }
    } finally {
      await holder.end().catch(() => undefined);
      await db.drop();
    }
  });

  test('an unreachable database is STORAGE_UNAVAILABLE, naming it without its password', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
    await assert.rejects(PostgresTaskStore.open(storeOptions('postgres://someone:hunter2secret@127.0.0.1:1/nowhere', { logger })), (error: OrchestratorError) => {
      assert.equal(error.code, 'STORAGE_UNAVAILABLE');
      assert.match(error.message, /postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/nowhere cannot be reached \(.*ECONNREFUSED/);
      assert.doesNotMatch(JSON.stringify({ message: error.message, data: error.data, warnings }), /hunter2secret/);
      assert.equal(error.data.retryable, true);
      return true;
    });
  });
});

describe('the settings every connection runs under', skipWithoutPostgres, () => {
  test('synchronous_commit and the timeouts are this server\'s, whatever the database, its URL options or its URL parameters say', async () => {
    const db = await freshDatabase();
    let store: PostgresTaskStore | undefined;
    try {
      await db.query(`ALTER DATABASE ${db.name} SET synchronous_commit = off`);
      await db.query(`ALTER DATABASE ${db.name} SET lock_timeout = 0`);
      const url = `${db.url}?options=${encodeURIComponent('-c search_path=public')}&statement_timeout=0&lock_timeout=0&idle_in_transaction_session_timeout=0`;
      store = await PostgresTaskStore.open(storeOptions(url, { statementTimeoutMs: 1234, lockTimeoutMs: 567, idleInTransactionMs: 8910 }));
      const settings = `SELECT current_setting('synchronous_commit') AS sync, current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock,
                               current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('search_path') AS path`;
      const expected = { sync: 'on', statement: '1234ms', lock: '567ms', idle: '8910ms', path: 'public' };
      assert.deepEqual((await store.db.transaction({ what: 'show the settings' }, (sql) => sql.query(settings))).rows[0], expected, 'in a transaction (the URL\'s own options still apply)');
      assert.deepEqual((await store.db.query({ what: 'show the settings' }, settings))[0], expected, 'in a read');
    } finally {
      await store?.close();
      await db.drop();
    }
  });
});

describe('refusals under contention', skipWithoutPostgres, () => {
  let db: TestDatabase;
  let holder: pg.Client;
  let id: string;
  before(async () => {
    db = await freshDatabase();
    const store = await PostgresTaskStore.open(storeOptions(db.url));
    id = (await store.create((i) => plan(i))).parent_task_id;
    await store.close();
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    // Another server in the middle of changing the task, for as long as these tests run.
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM task_orchestrator.parents WHERE parent_task_id = $1 FOR UPDATE', [id]);
  });
  after(async () => {
    await holder?.end();
    await db?.drop();
  });

  const refusals = async (store: PostgresTaskStore, calls: number) =>
    (await Promise.allSettled(Array.from({ length: calls }, () => store.update(id, (p) => ({ ...p, context: 'changed' }))))).map((r) => (r.status === 'rejected' ? (r.reason as OrchestratorError) : null));

  test('calls queued behind each other for a task\'s lock are each LOCK_TIMEOUT after the lock timeout, not a database that did not answer', async () => {
    const store = await PostgresTaskStore.open(storeOptions(db.url, { poolSize: 3, lockTimeoutMs: 600, statementTimeoutMs: 1_000 }));
    try {
      const started = Date.now();
      const errors = await refusals(store, 3);
      assert.deepEqual(errors.map((e) => e?.code), ['LOCK_TIMEOUT', 'LOCK_TIMEOUT', 'LOCK_TIMEOUT']);
      assert.match(errors[0]!.message, new RegExp(`Another server is changing task ${id} and did not finish within 600 ms`));
      assert.ok(Date.now() - started < 1_000, 'each waited the lock timeout, not the statement timeout');
    } finally {
      await store.close();
    }
  });

  test('a lock timeout longer than the statement timeout: the wait lasts the lock timeout, then LOCK_TIMEOUT', async () => {
    const store = await PostgresTaskStore.open(storeOptions(db.url, { poolSize: 2, lockTimeoutMs: 1_200, statementTimeoutMs: 400 }));
    try {
      const started = Date.now();
      const [error] = await refusals(store, 1);
      assert.equal(error?.code, 'LOCK_TIMEOUT');
      assert.ok(Date.now() - started >= 1_100, `waited the lock timeout (${Date.now() - started} ms)`);
      const free = (await store.create((i) => plan(i))).parent_task_id;
      const lockRow = (store as unknown as { lockedRow(sql: unknown, id: string): Promise<unknown[]> }).lockedRow.bind(store);
      const afterwards = await store.db.transaction({ what: 'look' }, async (sql) => {
        assert.equal((await lockRow(sql, free)).length, 1);
        return (await sql.query(`SELECT current_setting('statement_timeout') AS timeout`)).rows[0].timeout;
      });
      assert.equal(afterwards, '400ms', 'the statements after the lock keep the statement timeout');
    } finally {
      await store.close();
    }
  });

  test('every connection of the pool busy: STORAGE_UNAVAILABLE saying so, not a database that cannot be reached', async () => {
    const store = await PostgresTaskStore.open(storeOptions(db.url, { poolSize: 1, lockTimeoutMs: 1_500, statementTimeoutMs: 500 }));
    try {
      const [first, second] = await refusals(store, 2);
      assert.equal(first?.code, 'LOCK_TIMEOUT');
      assert.equal(second?.code, 'STORAGE_UNAVAILABLE');
      assert.match(second!.message, /^All 1 connections to the database .* are busy .*MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE/);
      assert.doesNotMatch(second!.message, /cannot be reached|Check that PostgreSQL runs/);
      assert.equal(second!.data.retryable, true);
    } finally {
      await store.close();
    }
  });
});

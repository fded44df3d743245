import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { Logger } from '../../app/ports.js';
import { OrchestratorError } from '../../domain/errors.js';
import { databaseError, isConnectionFailure, isDeadConnection, isTransientConflict, type FailureContext } from './database-errors.js';
import { redactDatabaseUrl, withoutPassword } from './database-url.js';

export interface DatabaseOptions {
  /** postgres://...; TLS by sslmode in it. Never logged as it is: redactDatabaseUrl. */
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
  /** How long a transaction waits for a row another server has locked (LOCK_TIMEOUT after). */
  lockTimeoutMs: number;
  /** A transaction left open this long (a paused process) is ended by the server, which frees its row locks. */
  idleInTransactionMs: number;
  logger: Logger;
}

/** A connection inside a transaction or for one read: run statements on it. */
export type Sql = Pick<PoolClient, 'query'>;

/** An error thrown inside a transaction by the caller's own code, not by the database: rolled back, then passed on unchanged. */
export class CallerError extends Error {
  constructor(override readonly cause: unknown) {
    super('the caller refused the change');
  }
}

/** Serialization failures and deadlocks retried (the server rolled the transaction back). */
const CONFLICT_RETRIES = 3;

/**
 * The connection pool and the two ways this store uses it: a transaction (every change) and a read.
 * Failures become OrchestratorErrors (database-errors.ts). The pool reconnects on its own: a dead
 * connection is dropped, the next call opens a new one.
 */
export class Database {
  readonly label: string;

  private constructor(
    private readonly pool: Pool,
    private readonly options: DatabaseOptions,
  ) {
    this.label = redactDatabaseUrl(options.url);
  }

  /** The pool (`pg` loaded here, on first use in team mode only). Connects nothing yet. */
  static async create(options: DatabaseOptions): Promise<Database> {
    const pg = (await import('pg')).default;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      // Our settings are SET on each new connection, after the URL's and the database's own: given to the
      // driver instead, a URL's "options=" or "statement_timeout=0" would replace them, and ALTER DATABASE
      // or ALTER ROLE could not (a session SET outranks both). The pool awaits it and drops a connection
      // on which it failed, so no statement ever runs without them; one round trip per connection opened.
      onConnect: (client) => client.query(sessionSettings(options)).then(() => undefined),
      // A server that stops answering without closing the connection (a network cut) must not hang a call.
      query_timeout: options.statementTimeoutMs + 5_000,
      connectionTimeoutMillis: options.statementTimeoutMs,
      keepAlive: true,
      application_name: 'task-orchestrator',
    });
    const database = new Database(pool, options);
    // An idle connection that fails (the database restarted) must not crash the process: the pool drops it.
    pool.on('error', (error) => options.logger.warn(`An idle connection to the database ${database.label} failed (${database.clean(error.message)}); the next call opens a new one.`));
    return database;
  }

  /**
   * Runs `work` in one transaction and commits it. A connection found dead before COMMIT changed
   * nothing: the work runs again on another connection (as many times as the pool has connections, all
   * of which a database restart may have left dead). Lost during COMMIT, the outcome is unknown and the
   * call refused with STORAGE_UNAVAILABLE saying so. Serialization failures and deadlocks are retried. `work` may run
   * more than once: it must decide everything from what it reads.
   */
  async transaction<T>(context: Omit<FailureContext, 'url' | 'outcome'>, work: (sql: Sql) => Promise<T>): Promise<T> {
    let connectionRetries = this.options.poolSize;
    let conflictRetries = CONFLICT_RETRIES;
    for (;;) {
      const client = await this.connect(context);
      let committing = false;
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        committing = true;
        await client.query('COMMIT');
        return result;
      } catch (error) {
        if (isConnectionFailure(error)) broken = error as Error;
        else broken = await this.rollback(client);
        if (committing && isConnectionFailure(error)) throw databaseError(error, this.failure(context, 'unknown'));
        if (error instanceof CallerError) throw error.cause;
        if (error instanceof OrchestratorError) throw error;
        if (isTransientConflict(error) && conflictRetries-- > 0) continue;
        if (isDeadConnection(error) && connectionRetries-- > 0) continue;
        throw databaseError(error, this.failure(context, 'not_changed'));
      } finally {
        client.release(broken);
      }
    }
  }

  /** Runs `work` on one connection, outside a transaction; run again on another when the connection was dead. */
  async read<T>(context: Omit<FailureContext, 'url' | 'outcome'>, work: (sql: Sql) => Promise<T>): Promise<T> {
    let connectionRetries = this.options.poolSize;
    for (;;) {
      const client = await this.connect(context);
      let broken: Error | undefined;
      try {
        return await work(client);
      } catch (error) {
        if (isConnectionFailure(error)) broken = error as Error;
        if (error instanceof OrchestratorError) throw error;
        if (isDeadConnection(error) && connectionRetries-- > 0) continue;
        throw databaseError(error, this.failure(context, 'not_changed'));
      } finally {
        client.release(broken);
      }
    }
  }

  /** One statement as a read. */
  async query<R extends QueryResultRow>(context: Omit<FailureContext, 'url' | 'outcome'>, text: string, values: unknown[] = []): Promise<R[]> {
    return this.read(context, async (sql) => (await sql.query<R>(text, values)).rows);
  }

  /** The timeouts every connection runs under (sessionSettings), for a statement that sets its own for a while. */
  get timeouts(): { statementTimeoutMs: number; lockTimeoutMs: number } {
    return { statementTimeoutMs: this.options.statementTimeoutMs, lockTimeoutMs: this.options.lockTimeoutMs };
  }

  async close(): Promise<void> {
    await this.pool.end().catch((error: Error) => this.options.logger.warn(`Closing the connections to ${this.label}: ${this.clean(error.message)}`));
  }

  /** A message without the password (the driver's messages may quote the URL's parts). */
  clean(message: string): string {
    return withoutPassword(message, this.options.url);
  }

  /**
   * A connection from the pool. While it is checked out, the pool no longer listens for its errors: a
   * connection lost under a query would then be an uncaught 'error' event, which ends the process. Its
   * queries fail with the same error, so the listener only has to exist; release() removes it.
   */
  private async connect(context: Omit<FailureContext, 'url' | 'outcome'>): Promise<PoolClient> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw databaseError(error, this.failure(context, 'not_changed'));
    }
    const ignore = () => undefined;
    client.on('error', ignore);
    const release = client.release.bind(client);
    client.release = (broken?: Error | boolean) => {
      client.removeListener('error', ignore);
      client.release = release;
      release(broken);
    };
    return client;
  }

  /** Rolls back after a failed statement; a connection that cannot even do that is returned as broken. */
  private async rollback(client: PoolClient): Promise<Error | undefined> {
    try {
      await client.query('ROLLBACK');
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  private failure(context: Omit<FailureContext, 'url' | 'outcome'>, outcome: FailureContext['outcome']): FailureContext {
    return { ...context, url: this.options.url, outcome, lockTimeoutMs: this.options.lockTimeoutMs, statementTimeoutMs: this.options.statementTimeoutMs, poolSize: this.options.poolSize };
  }
}

/**
 * What every connection of this store runs under, whatever the URL, the database or the role say: an
 * acknowledged change is on the database's disk (synchronous_commit), and no statement, lock wait or
 * forgotten transaction lasts longer than configured. The numbers are integers from the settings.
 */
export function sessionSettings(options: Pick<DatabaseOptions, 'statementTimeoutMs' | 'lockTimeoutMs' | 'idleInTransactionMs'>): string {
  const ms = (value: number) => String(Math.max(0, Math.trunc(value)));
  return [
    'SET synchronous_commit = on',
    `SET statement_timeout = ${ms(options.statementTimeoutMs)}`,
    `SET lock_timeout = ${ms(options.lockTimeoutMs)}`,
    `SET idle_in_transaction_session_timeout = ${ms(options.idleInTransactionMs)}`,
  ].join('; ');
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A fresh PostgreSQL database per test file: created with a unique name, dropped (WITH (FORCE): servers
 * a failed test left connected do not stop it) after. The server is the one of TEST_DATABASE_URL, else
 * the local one (127.0.0.1:5432, user postgres). Where none answers, the tests skip with one line that
 * says why, except under CI=true, where they must run: there, no database is a failure.
 */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Why the PostgreSQL tests cannot run here, or null when they can. Asked once per test file. */
export const unavailable: string | null = await probe();

async function probe(): Promise<string | null> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    const reason = `no PostgreSQL at ${redacted(ADMIN_URL)} (${(error as Error).message}); set TEST_DATABASE_URL to one where this user may CREATE DATABASE`;
    if (process.env.CI === 'true') throw new Error(`CI=true, so the PostgreSQL tests must run, but there is ${reason}`);
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** For describe(): skip with the reason when there is no PostgreSQL, else run. */
export const skipWithoutPostgres: { skip: string | false } = { skip: unavailable ? `skipped: ${unavailable}` : false };

export interface TestDatabase {
  /** The URL of the new database. */
  url: string;
  name: string;
  /** Runs one statement on it (through its own short connection). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const name = `orchestrator_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = urlFor(name);
  return {
    url,
    name,
    async query(text, values = []) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    drop: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** The URL of another database on the same server (same user, host and options). */
export function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

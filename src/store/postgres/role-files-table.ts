import type { Sql } from './database.js';
import { SCHEMA } from './schema.js';

/** Where the team's role files came from: the project folder of the server that seeded them, or a push. */
export interface RoleFilesOrigin {
  /** "seeded" by the first server to start on the database, or "pushed" with task-orchestrator roles --push. */
  how: 'seeded' | 'pushed';
  /** The roles folder they were read from, and its host. */
  from: string;
  host: string;
  at: string;
}

const ORIGIN_KEY = 'roles';

/** The team's role files by name: default_roles.yaml, custom_roles.yaml, templates/<name>.md. */
export async function readRoleFiles(sql: Sql): Promise<Map<string, string>> {
  const { rows } = await sql.query<{ name: string; body: string }>(`SELECT name, body FROM ${SCHEMA}.role_files ORDER BY name`);
  return new Map(rows.map((r) => [r.name, r.body]));
}

export async function rolesOrigin(sql: Sql): Promise<RoleFilesOrigin | null> {
  const { rows } = await sql.query<{ value: RoleFilesOrigin }>(`SELECT value FROM ${SCHEMA}.meta WHERE key = $1`, [ORIGIN_KEY]);
  return rows[0]?.value ?? null;
}

/** Replaces every role file at once and records where they came from; the caller holds the schema's advisory lock. */
export async function replaceRoleFiles(sql: Sql, files: ReadonlyMap<string, string>, origin: RoleFilesOrigin): Promise<void> {
  await sql.query(`DELETE FROM ${SCHEMA}.role_files`);
  const names = [...files.keys()];
  if (names.length) await sql.query(`INSERT INTO ${SCHEMA}.role_files (name, body) SELECT * FROM unnest($1::text[], $2::text[])`, [names, names.map((n) => files.get(n)!)]);
  await sql.query(`INSERT INTO ${SCHEMA}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [ORIGIN_KEY, origin]);
}

import type { Logger } from '../app/ports.js';
import type { Settings } from '../config.js';
import type { OpenProject } from '../compose/open-project.js';
import { ensureLayout, type Layout } from '../store/file/layout.js';
import { projectLockManager } from '../store/file/lock.js';
import { FileStateStore } from './file-state.js';
import type { PostgresStateStore } from './postgres-state.js';
import type { StateStore } from './state-store.js';

/** The file store of a project as entries, with the same locks as its servers (created if missing). */
export async function openFileState(layout: Layout, settings: Settings, logger: Logger): Promise<FileStateStore> {
  await ensureLayout(layout);
  const locks = projectLockManager(layout.locksDir, settings, logger);
  return new FileStateStore(layout, locks, logger);
}

/** A PostgreSQL database as entries: its schema created or migrated first, its roles never seeded from a project. */
export async function openPostgresState(url: string, settings: Settings, logger: Logger): Promise<PostgresStateStore> {
  // Loaded only here: the driver is never loaded by a project on files (test/mcp/lazy-loading.test.ts).
  const { PostgresTaskStore } = await import('../store/postgres/postgres-task-store.js');
  const store = await PostgresTaskStore.open({ url, poolSize: 2, statementTimeoutMs: settings.dbStatementTimeoutMs, lockTimeoutMs: settings.lockTimeoutMs, idleInTransactionMs: Math.max(settings.lockStaleMs, 60_000), logger });
  return new (await import('./postgres-state.js')).PostgresStateStore(store.db);
}

/** The state of the store the settings choose: the database when a URL is set, else the project's files. */
export async function openProjectState(layout: Layout, settings: Settings, logger: Logger): Promise<StateStore> {
  return settings.databaseUrl ? openPostgresState(settings.databaseUrl, settings, logger) : openFileState(layout, settings, logger);
}

/**
 * The state of a project opened by openProject, sharing its store's locks or database connections
 * (closing it leaves them to the project). The PostgreSQL part is loaded only in team mode.
 */
export async function stateOfProject(project: OpenProject, logger: Logger): Promise<StateStore> {
  const state: StateStore = project.team ? new (await import('./postgres-state.js')).PostgresStateStore(project.team.db) : new FileStateStore(project.layout, project.files!.locks, logger);
  return {
    kind: state.kind,
    description: state.description,
    snapshot: (visit) => state.snapshot(visit),
    put: (entry, options) => state.put(entry, options),
    replaceAll: (entries, onStep) => state.replaceAll(entries, onStep),
    close: async () => {},
  };
}

import { statSync } from 'node:fs';
import type { AppContext } from '../app/context.js';
import type { Logger, Maintenance, RoleCatalog, TaskStore } from '../app/ports.js';
import { Orchestrator } from '../app/orchestrator.js';
import type { ActiveOwner } from '../domain/model.js';
import { sessionAgentId } from '../domain/leases.js';
import { isWritable, type Settings } from '../config.js';
import { diagnose, doctorLocks } from '../maintenance/doctor.js';
import { repair } from '../maintenance/doctor-fix.js';
import { EncryptingTaskStore } from '../store/encrypting-task-store.js';
import { FileTaskStore } from '../store/file/file-task-store.js';
import type { RecoveryReport } from '../store/file/recovery.js';
import type { PostgresTaskStore } from '../store/postgres/postgres-task-store.js';
import { layoutFor, type Layout } from '../store/file/layout.js';
import { projectLockManager } from '../store/file/lock.js';
import { judgeOwner, selfIdentity } from '../store/file/owner.js';
import { loadRoleCatalog, prepareRoleFiles } from '../roles/role-files.js';

export interface OpenProject {
  orchestrator: Orchestrator;
  /** Where the tasks are: the file store, or in team mode the PostgreSQL store, through encryption at rest. */
  store: TaskStore;
  /** The same store as `store`, for what converts it (encrypt, decrypt, rotate-key). */
  encryption: EncryptingTaskStore;
  /** The project folder's .task_orchestrator/: the tasks (file store), the logs and the local role files (both). */
  layout: Layout;
  /** Where the tasks are kept, for logs and messages: the folder, or the database with its password hidden. */
  where: string;
  /** The file store, for what works on its files (doctor, the Python import's report); null in team mode. */
  files: FileTaskStore | null;
  /** The PostgreSQL store in team mode (its roles and health), else null. */
  team: PostgresTaskStore | null;
  /** What opening the file store finished of a crash's leftovers; null when recovery did not run, and in team mode. */
  recovery: RecoveryReport | null;
  close(): Promise<void>;
}

export type ProjectLogger = Logger & { attach?(logsDir: string): void };
export interface OpenOptions {
  /** Finish what a crash left half done (file store), seed the team's roles (team mode); the reading commands turn it off. */
  recover?: boolean;
  verifyInBackground?: boolean;
  /** Scheduled backups and retention runs (a server): transfer/safety-schedule.ts. */
  schedule?: boolean;
}

/**
 * Opens a project: its .task_orchestrator/ (created if needed), or with a database URL the team's
 * PostgreSQL store (loaded only then), and wires the use cases to it.
 */
export async function openProject(baseDir: string, settings: Settings, logger: ProjectLogger, options: OpenOptions = {}): Promise<OpenProject> {
  const project = settings.databaseUrl ? await (await import('./open-team-project.js')).openTeamProject(baseDir, settings, settings.databaseUrl, logger, options) : await openFileProject(baseDir, settings, logger, options);
  if (!options.schedule) return project;
  const stop = (await import('../transfer/safety-schedule.js')).startSafetySchedule(project, logger);
  const close = project.close;
  const closeAll = async () => {
    await stop();
    await close();
  };
  return { ...project, close: closeAll };
}

async function openFileProject(baseDir: string, settings: Settings, logger: ProjectLogger, options: OpenOptions): Promise<OpenProject> {
  const layout = layoutFor(baseDir, settings.configDir ?? undefined);
  // A .task_orchestrator/ this process cannot write (a read-only mount, another user's folder) still serves reads.
  const readOnly = isReadOnlyStore(layout);
  if (readOnly) {
    logger.warn(`${layout.root} is read-only: tasks are served for reading, changes are refused, and nothing is logged to its logs/ folder.`);
  } else {
    // The log file first: what opening finds (corrupt files, lock takeovers, recovery) must reach logs/orchestrator.log.
    try {
      logger.attach?.(layout.logsDir);
    } catch {
      // an unwritable folder: opening the store below reports it
    }
  }
  const locks = projectLockManager(layout.locksDir, settings, logger);
  const files = await FileTaskStore.open({ layout, logger, locks, recover: options.recover, verifyInBackground: options.verifyInBackground, readOnly });
  const store = withEncryption(files, settings, (id) => files.locate(id));
  if (!readOnly) {
    try {
      const roleFiles = await prepareRoleFiles(layout);
      if (roleFiles.migrated.length) logger.info('Migrated Python-era configuration into roles/', { files: roleFiles.migrated });
      for (const refused of roleFiles.refused) logger.warn(`Did not migrate ${refused}`);
    } catch (error) {
      // A read-only MCP_TASK_ORCHESTRATOR_CONFIG_DIR, say: the roles are still read from what is there.
      logger.warn(`Could not write the default role files in ${layout.rolesDir}: ${(error as Error).message}`);
    }
  }
  const roles = await loadRoleCatalog(layout);
  for (const problem of roles.errors) logger.warn(`Role files: ${problem}`);
  const orchestrator = wire({ store, roles, logger, settings, baseDir: layout.base, maintenance: maintenanceOf(files, layout, settings) });
  return { orchestrator, store, encryption: store, layout, where: layout.root, files, team: null, recovery: files.lastRecovery, close: () => store.close() };
}

/**
 * Every store is reached through encryption at rest, with a key or without: without one, a parent
 * stored encrypted is refused (ENCRYPTION_KEY_REQUIRED), never shown as ciphertext.
 */
export function withEncryption(inner: TaskStore, settings: Settings, whereIs: (parentTaskId: string) => string): EncryptingTaskStore {
  return new EncryptingTaskStore(inner, settings.keyring, whereIs);
}

/** The use cases over a store: what every project gets, whichever store holds its tasks. */
export function wire(parts: { store: TaskStore; roles: RoleCatalog; logger: Logger; settings: Settings; baseDir: string; maintenance: Maintenance }): Orchestrator {
  // Here, once the log file is attached: a key file other users can read must reach logs/orchestrator.log.
  // Its double quotes become single ones: the log leaves out what is between double quotes while a key
  // is configured (user text), and this text is ours, with the fix ("chmod 600 <file>") in quotes.
  for (const warning of parts.settings.keyWarnings) parts.logger.warn(warning.replaceAll('"', "'"));
  // Recorded on the subtasks this process marks active: pid, host, a random instance (pids are reused),
  // and the PID namespace and boot that make the pid meaningful (owner.ts).
  const { pid, host, instance, pidns, boot } = selfIdentity();
  const owner: ActiveOwner = { pid, host, instance, pidns, boot };
  const ctx: AppContext = {
    store: parts.store,
    roles: parts.roles,
    logger: parts.logger,
    clock: { now: () => new Date() },
    owner,
    // An owner we cannot see (another host, boot or PID namespace) counts as alive: only a lease expiry says otherwise.
    isOwnerAlive: (other) => judgeOwner(other) !== 'dead',
    sessionAgentId: sessionAgentId(instance),
    leaseMs: parts.settings.leaseMs,
    baseDir: parts.baseDir,
    maintenance: parts.maintenance,
  };
  return new Orchestrator(ctx);
}

/** doctor and doctor --fix for the server, with the same locks as the CLI's doctor. */
function maintenanceOf(store: FileTaskStore, layout: Layout, settings: Settings): Maintenance {
  const locks = doctorLocks(layout, settings.lockStaleMs);
  const findings = () => diagnose(layout, { locks });
  return {
    diagnose: findings,
    repair: async () => repair({ store, layout, locks, keyring: settings.keyring }, await findings()),
  };
}

/** An existing .task_orchestrator/ that this process may not write; a missing one is created (or fails) as usual. */
function isReadOnlyStore(layout: Layout): boolean {
  return statSync(layout.root, { throwIfNoEntry: false })?.isDirectory() === true && !isWritable(layout.root);
}

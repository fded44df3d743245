import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import type { Settings } from '../config.js';
import { teamMaintenance } from '../maintenance/team-doctor.js';
import { prepareRoleFiles, readRoleFileSet, roleCatalogFrom } from '../roles/role-files.js';
import { layoutFor, type Layout } from '../store/file/layout.js';
import { PostgresTaskStore } from '../store/postgres/postgres-task-store.js';
import { wire, withEncryption, type OpenOptions, type OpenProject, type ProjectLogger } from './open-project.js';

/**
 * Team mode: every task in the PostgreSQL database the URL names, shared by every server that names it.
 * The project folder keeps what is this machine's: logs/, and the role files the team's roles are
 * seeded from when the database has none yet (every server then reads the team's roles from the
 * database, so that every agent of the team gets the same prompts).
 */
export async function openTeamProject(baseDir: string, settings: Settings, url: string, logger: ProjectLogger, options: OpenOptions): Promise<OpenProject> {
  const layout = layoutFor(baseDir, settings.configDir ?? undefined);
  await prepareLocalFolder(layout, logger);
  const local = await readRoleFileSet(layout);
  const team = await PostgresTaskStore.open({
    url,
    poolSize: settings.dbPoolSize,
    statementTimeoutMs: settings.dbStatementTimeoutMs,
    lockTimeoutMs: settings.lockTimeoutMs,
    // A transaction left open this long (its process paused) is ended by the database, which frees the task.
    idleInTransactionMs: settings.lockStaleMs,
    logger,
    // Reading commands (status, show) never choose the team's roles: a server or a writing command does.
    seedRoles: options.recover === false ? undefined : { files: local.files, origin: { how: 'seeded', from: layout.rolesDir, host: os.hostname(), at: new Date().toISOString() } },
  });
  const store = withEncryption(team, settings, (id) => `database ${team.db.label}, task_orchestrator.parents ${id}`);
  try {
    const teamFiles = await team.roleFiles();
    const roles = await roleCatalogFrom(teamFiles);
    for (const problem of roles.errors) logger.warn(`The team's role files: ${problem}`);
    if (teamFiles.size > 0 && !sameFiles(teamFiles, local.files)) {
      logger.info(`The role files in ${layout.rolesDir} differ from the team's, which every server reads from the database ${team.db.label}; "task-orchestrator roles --push" replaces the team's with these.`);
    }
    const clock = { now: () => new Date() };
    const orchestrator = wire({ store, roles, logger, settings, baseDir: layout.base, maintenance: teamMaintenance(team, clock) });
    return { orchestrator, store, encryption: store, layout, where: `the PostgreSQL database ${team.db.label}`, files: null, team, recovery: null, close: () => store.close() };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** logs/ and the local role files; a folder that cannot be written is no reason not to serve the team's tasks. */
async function prepareLocalFolder(layout: Layout, logger: ProjectLogger): Promise<void> {
  try {
    await mkdir(layout.logsDir, { recursive: true });
    logger.attach?.(layout.logsDir);
  } catch (error) {
    logger.warn(`Could not prepare ${layout.logsDir} for the log: ${(error as Error).message}`);
  }
  try {
    for (const dir of [layout.rolesDir, layout.templatesDir]) await mkdir(dir, { recursive: true });
    const report = await prepareRoleFiles(layout);
    if (report.migrated.length) logger.info('Migrated Python-era configuration into roles/', { files: report.migrated });
  } catch (error) {
    logger.warn(`Could not write the default role files in ${layout.rolesDir}: ${(error as Error).message}`);
  }
}

function sameFiles(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([name, text]) => b.get(name) === text);
}

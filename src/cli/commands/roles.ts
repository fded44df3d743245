import os from 'node:os';
import type { Settings } from '../../config.js';
import { readRoleFileSet, roleCatalogFrom } from '../../roles/role-files.js';
import { describeRoles, describeTeamRoles, type RoleReport } from '../../roles/role-report.js';
import type { Layout } from '../../store/file/layout.js';
import { mark, paint, printable, styleFor, type Style } from '../format.js';
import { EXIT, layoutOf, print, printJson, UsageError, warn, withProject, type BaseOptions } from '../run.js';

export interface RolesOptions extends BaseOptions {
  json?: boolean;
  /** Team mode: replace the team's role files in the database with this project's. */
  push?: boolean;
}

/**
 * `task-orchestrator roles`: every role, where it comes from, and the problems in the role files.
 * In team mode, the team's roles (read from the database); with --push, the project's role files
 * replace them first.
 */
export async function roles(options: RolesOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  if (options.push && !settings.databaseUrl) {
    throw new UsageError('--push replaces the role files of a team\'s database: set MCP_TASK_ORCHESTRATOR_DATABASE_URL or pass --database-url. Without a database, every server reads the project\'s role files as they are.');
  }
  const report = settings.databaseUrl ? await teamRoles(settings, layout, options.push === true, options.json === true) : await describeRoles(layout);
  if (options.json) printJson(report);
  else printReport(printable(report), styleFor(process.stdout));
  return report.errors.length ? EXIT.PROBLEMS : EXIT.OK;
}

async function teamRoles(settings: Settings, layout: Layout, push: boolean, json: boolean): Promise<RoleReport> {
  const local = push ? await checkedLocalFiles(layout) : null;
  return withProject(settings, layout, { recover: false }, async ({ team }) => {
    const store = team!;
    if (local) {
      await store.pushRoleFiles(local, { how: 'pushed', from: layout.rolesDir, host: os.hostname(), at: new Date().toISOString() });
      // With --json, stdout is the report alone (its team.how says "pushed").
      if (!json) print(`Replaced the team's role files in ${printable(store.db.label)} with the ${local.size} file(s) of ${printable(layout.rolesDir)}. Restart the team's servers: they read the roles when they start.`);
    }
    return describeTeamRoles(await store.roleFiles(), store.db.label, await store.roleFilesOrigin());
  });
}

/** The project's role files, refused when they have problems: every server of the team would inherit them. */
async function checkedLocalFiles(layout: Layout): Promise<Map<string, string>> {
  const { files, errors } = await readRoleFileSet(layout);
  const problems = [...errors, ...(await roleCatalogFrom(files)).errors];
  if (problems.length) {
    throw new UsageError(`the role files in ${layout.rolesDir} have ${problems.length} problem(s), so they were not pushed (nothing changed in the database):\n${problems.map((p) => `  ${p}`).join('\n')}\nCorrect them ("task-orchestrator roles" without a database URL checks them), then push again.`);
  }
  return files;
}

function printReport(report: RoleReport, style: Style): void {
  if (report.team !== undefined) printTeamHeader(report);
  else {
    print(`Role files in ${report.roles_dir}${report.from_config_dir ? ' (MCP_TASK_ORCHESTRATOR_CONFIG_DIR)' : ''}:`);
    for (const f of report.files) print(`  ${f.name}: ${f.exists ? 'present' : 'absent'}`);
  }
  print();
  const width = Math.max(...report.roles.map((r) => r.name.length));
  for (const role of report.roles) {
    const source = role.source === 'built-in' ? 'built-in default' : role.source;
    const template = role.template ? `, template ${role.template}` : '';
    print(`${paint(style, 'bold', role.name.padEnd(width))}  ${role.summary}`);
    print(`${' '.repeat(width)}  ${paint(style, 'gray', `from ${source}${template}`)}`);
  }
  if (report.errors.length) {
    const errStyle = styleFor(process.stderr);
    warn(`\n${report.errors.length} problem(s) in the role files (the affected roles fall back to their defaults):`);
    for (const e of report.errors) warn(`${mark(errStyle, 'problem')} ${e}`);
  }
}

function printTeamHeader(report: RoleReport): void {
  const team = report.team;
  print(`The team's role files, in the database ${report.roles_dir}${team ? ` (${team.how} from ${team.from} on ${team.host}, ${team.at})` : ' (none yet: the first server to start seeds them from its project)'}:`);
  for (const f of report.files) print(`  ${f.name}: ${f.exists ? 'present' : 'absent'}`);
}

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { roleSummary, type RoleSource } from '../domain/roles.js';
import type { Layout } from '../store/file/layout.js';
import { CUSTOM_ROLES_FILE, DEFAULT_ROLES_FILE, GENERIC_TEMPLATE_FILE, loadRoleCatalog, roleCatalogFrom, TEMPLATES_PREFIX, type RoleFileSet } from './role-files.js';

export interface RoleListing {
  name: string;
  /** The last layer that defined or changed the role. */
  source: RoleSource;
  /** The file of that layer; null for the built-in roles. */
  file: string | null;
  summary: string;
  /** The prompt template used for it: roles/templates/<role>.md, specialist_prompt.md, or the built-in one (null). */
  template: string | null;
}

export interface RoleReport {
  /** The roles folder, or in team mode the database the team's role files are read from (password hidden). */
  roles_dir: string;
  /** Team mode: where the database's role files came from (seeded or pushed, from which folder, when). */
  team?: { database: string; how: string; from: string; host: string; at: string } | null;
  /** Whether MCP_TASK_ORCHESTRATOR_CONFIG_DIR moved the role files out of .task_orchestrator/roles/. */
  from_config_dir: boolean;
  files: { name: string; path: string; exists: boolean }[];
  roles: RoleListing[];
  errors: string[];
}

/** Every role the server would offer, where each comes from, and the problems in the role files. */
export async function describeRoles(layout: Layout): Promise<RoleReport> {
  const catalog = await loadRoleCatalog(layout);
  const files = [];
  for (const name of [DEFAULT_ROLES_FILE, CUSTOM_ROLES_FILE]) {
    const file = path.join(layout.rolesDir, name);
    files.push({ name, path: file, exists: await isFile(file) });
  }
  const roles: RoleListing[] = [];
  for (const role of [...catalog.roles.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    roles.push({
      name: role.name,
      source: role.source,
      file: role.source === 'built-in' ? null : path.join(layout.rolesDir, role.source),
      summary: roleSummary(role),
      template: templateOf(layout, catalog.templateFiles, role.name),
    });
  }
  return { roles_dir: layout.rolesDir, from_config_dir: layout.rolesDir !== path.join(layout.root, 'roles'), files, roles, errors: [...catalog.errors] };
}

/** The same report for a team's role files, stored in its database (`database`: its URL, password hidden). */
export async function describeTeamRoles(files: RoleFileSet, database: string, origin: Omit<NonNullable<RoleReport['team']>, 'database'> | null): Promise<RoleReport> {
  const catalog = await roleCatalogFrom(files);
  const listed = [DEFAULT_ROLES_FILE, CUSTOM_ROLES_FILE, ...[...files.keys()].filter((name) => name.startsWith(TEMPLATES_PREFIX))];
  const roles: RoleListing[] = [...catalog.roles.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((role) => {
      const template = [`${role.name}.md`, GENERIC_TEMPLATE_FILE].find((candidate) => catalog.templateFiles.has(candidate));
      return { name: role.name, source: role.source, file: role.source === 'built-in' ? null : role.source, summary: roleSummary(role), template: template ? `${TEMPLATES_PREFIX}${template}` : null };
    });
  return {
    roles_dir: database,
    team: origin ? { database, ...origin } : null,
    from_config_dir: false,
    files: listed.map((name) => ({ name, path: name, exists: files.has(name) })),
    roles,
    errors: [...catalog.errors],
  };
}

/** The template file the role uses: one that was read (a refused one, a link out of the project say, is not). */
function templateOf(layout: Layout, read: ReadonlySet<string>, role: string): string | null {
  const name = [`${role}.md`, GENERIC_TEMPLATE_FILE].find((candidate) => read.has(candidate));
  return name ? path.join(layout.templatesDir, name) : null;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null))?.isFile() === true;
}

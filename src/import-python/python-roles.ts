import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { BUILTIN_ROLES } from '../domain/builtin-roles.js';
import { ORCHESTRATOR_KEY, readRoleFile, type Role } from '../domain/roles.js';
import { isCode, writeFileDurable } from '../store/file/durable-fs.js';
import { CUSTOM_ROLES_FILE } from '../roles/role-files.js';

/**
 * Imports the custom roles of a Python orchestrator into our roles/custom_roles.yaml. A role the user
 * already has there is never overwritten; the first Python file that defines a role wins. The file is
 * changed as a YAML document, so the user's comments and order stay as they are.
 */

/** In .task_orchestrator/roles/: v1.4's custom_roles.yaml and v1.5's project_roles.yaml. */
export const PYTHON_ROLE_FILES = [CUSTOM_ROLES_FILE, 'project_roles.yaml'];

/** v1.3 read any `*_roles.yaml` in the folder it ran in (it wrote example_roles.yaml there, all commented out). */
export async function projectRoleFiles(projectDir: string): Promise<string[]> {
  const names = await readdir(projectDir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('_roles.yaml') && n !== 'example_roles.yaml')
    .sort()
    .map((n) => path.join(projectDir, n));
}

export interface RoleFileImport {
  file: string;
  /** Roles added to custom_roles.yaml. */
  imported: string[];
  /** Roles left out because custom_roles.yaml (or an earlier Python file) already has them. */
  kept: string[];
  /** Roles left out because they are not valid roles, with why. */
  invalid: { role: string; reason: string }[];
  /** Why the whole file could not be used. */
  error?: string;
}

export interface RolesImportReport {
  /** Our custom_roles.yaml, when it was written. */
  written: string | null;
  files: RoleFileImport[];
  /** Why nothing could be imported (our custom_roles.yaml is not valid YAML, say). */
  error?: string;
}

type YamlModule = typeof import('yaml');

export async function importPythonRoles(rolesDir: string, sources: string[]): Promise<RolesImportReport> {
  const target = path.join(rolesDir, CUSTOM_ROLES_FILE);
  const report: RolesImportReport = { written: null, files: [] };
  if (!sources.length) return report;
  const YAML = (await import('yaml')).default as unknown as YamlModule;
  const current = await readFile(target, 'utf8').catch((error: unknown) => (isCode(error, 'ENOENT') ? null : Promise.reject(error)));
  const doc = current === null ? new YAML.Document({}) : YAML.parseDocument(current);
  if (doc.errors.length || (doc.contents !== null && !YAML.isMap(doc.contents))) {
    report.error = `${target} is not a valid role file (${doc.errors[0]?.message.split('\n')[0] ?? 'its top level is not a mapping'}), so no role was imported. Fix it and run this again.`;
    return report;
  }
  if (doc.contents === null) doc.contents = doc.createNode({});
  const taken = new Set(Object.keys((doc.toJS() as Record<string, unknown> | null) ?? {}).map(normalName));
  const targetReal = await realpath(target).catch(() => target);
  for (const file of sources) {
    if ((await realpath(file).catch(() => file)) === targetReal) continue; // importing into the same project: these are ours already
    report.files.push(await importFile(YAML, doc, file, taken));
  }
  if (report.files.some((f) => f.imported.length)) {
    const header = current === null ? '# Your specialist roles, merged over default_roles.yaml field by field. Never written by the server.\n' : '';
    await writeFileDurable(target, header + doc.toString({ lineWidth: 0 }));
    report.written = target;
  }
  return report;
}

async function importFile(YAML: YamlModule, doc: InstanceType<YamlModule['Document']>, file: string, taken: Set<string>): Promise<RoleFileImport> {
  const result: RoleFileImport = { file, imported: [], kept: [], invalid: [] };
  let parsed: unknown;
  try {
    parsed = YAML.parse(await readFile(file, 'utf8'));
  } catch (error) {
    result.error = `cannot be read as YAML: ${(error as Error).message.split('\n')[0]}`;
    return result;
  }
  if (parsed === null || parsed === undefined) return result; // empty, or all commented out
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    result.error = 'the top level is not a mapping of role name to role';
    return result;
  }
  for (const [rawName, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = normalName(rawName);
    const role = validRole(name, rawName, value, path.basename(file));
    if (typeof role === 'string') result.invalid.push({ role: rawName, reason: role });
    else if (taken.has(name)) result.kept.push(name);
    else {
      const pair = doc.createPair(name, role);
      (pair.key as { commentBefore?: string }).commentBefore = ` imported from ${file}`;
      (doc.contents as { items: unknown[] }).items.push(pair);
      taken.add(name);
      result.imported.push(name);
    }
  }
  return result;
}

/** The role's fields as our role files hold them, or why it is not a role we can use. */
function validRole(name: string, rawName: string, value: unknown, fileName: string): Partial<Role> | string {
  const content = readRoleFile({ [rawName]: value }, fileName);
  if (content.errors.length) return content.errors.join(' ');
  const role = name === ORCHESTRATOR_KEY ? content.orchestrator : content.roles.get(name);
  if (!role) return 'not a role';
  if (name !== ORCHESTRATOR_KEY && !(name in BUILTIN_ROLES) && !role.role_definition) return 'a new role needs a role_definition';
  return role;
}

function normalName(name: string): string {
  return name.trim().toLowerCase();
}

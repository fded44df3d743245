/** Specialist roles: what a role is, how role files are read, and how custom roles merge over defaults. */

export interface Role {
  role_definition: string;
  expertise: string[];
  approach: string[];
  output_format: string;
}

export type RoleSource = 'built-in' | 'default_roles.yaml' | 'custom_roles.yaml';

export interface ResolvedRole extends Role {
  name: string;
  source: RoleSource;
}

export interface RoleFileContent {
  /** Roles by name; fields the file leaves out are absent. */
  roles: Map<string, Partial<Role>>;
  /** The orchestrator's own guidance, under the key `task_orchestrator`. */
  orchestrator: Partial<Role> | null;
  /** Problems found, each naming the role and field; those entries are skipped. */
  errors: string[];
}

export const ORCHESTRATOR_KEY = 'task_orchestrator';
const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

/** Validates the parsed YAML of a role file. Never throws: bad entries are reported and skipped. */
export function readRoleFile(parsed: unknown, fileName: string): RoleFileContent {
  const content: RoleFileContent = { roles: new Map(), orchestrator: null, errors: [] };
  if (parsed === null || parsed === undefined) return content; // an empty file is a file with no roles
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    content.errors.push(`${fileName}: the top level must be a mapping of role name to role (role_definition, expertise, approach, output_format).`);
    return content;
  }
  for (const [rawName, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = rawName.trim().toLowerCase();
    const role = readRole(value, `${fileName}: role "${rawName}"`, content.errors);
    if (!role) continue;
    if (name === ORCHESTRATOR_KEY) content.orchestrator = role;
    else if (!ROLE_NAME_PATTERN.test(name)) content.errors.push(`${fileName}: role name "${rawName}" must start with a letter and use only letters, digits, "_" and "-".`);
    else content.roles.set(name, role);
  }
  return content;
}

function readRole(value: unknown, where: string, errors: string[]): Partial<Role> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${where} must be a mapping with role_definition, expertise, approach and output_format.`);
    return null;
  }
  const raw = value as Record<string, unknown>;
  const role: Partial<Role> = {};
  const before = errors.length;
  for (const field of ['role_definition', 'output_format'] as const) {
    if (raw[field] === undefined) continue;
    if (typeof raw[field] === 'string') role[field] = raw[field].trim();
    else errors.push(`${where}: ${field} must be text.`);
  }
  for (const field of ['expertise', 'approach'] as const) {
    if (raw[field] === undefined) continue;
    const list = raw[field];
    if (typeof list === 'string') role[field] = [list];
    else if (Array.isArray(list) && list.every((x) => typeof x === 'string')) role[field] = list.map((x) => x.trim());
    else errors.push(`${where}: ${field} must be a list of text items.`);
  }
  return errors.length === before ? role : null;
}

/**
 * Merges role layers, later layers winning field by field: a custom role may override only its
 * output_format, say, and keep the rest of the built-in role. A new role needs a role_definition.
 */
export function mergeRoles(layers: readonly { source: RoleSource; roles: ReadonlyMap<string, Partial<Role>> }[], errors: string[]): Map<string, ResolvedRole> {
  const merged = new Map<string, ResolvedRole>();
  for (const layer of layers) {
    for (const [name, partial] of layer.roles) {
      const base = merged.get(name);
      if (!base && !partial.role_definition) {
        errors.push(`${layer.source}: new role "${name}" has no role_definition, so it was skipped. Add a one-sentence role_definition.`);
        continue;
      }
      merged.set(name, {
        name,
        source: layer.source,
        role_definition: partial.role_definition ?? base!.role_definition,
        expertise: partial.expertise ?? base?.expertise ?? [],
        approach: partial.approach ?? base?.approach ?? [],
        output_format: partial.output_format ?? base?.output_format ?? 'A clear, structured report of what you did and found.',
      });
    }
  }
  return merged;
}

/** The one-line summary of a role shown in initialize_session. */
export function roleSummary(role: Role): string {
  const first = role.role_definition.replace(/^You are (an? )?/i, '').split(/[.\n]/)[0]!.trim();
  return first.charAt(0).toUpperCase() + first.slice(1);
}

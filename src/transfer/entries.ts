import { entryKindOf, type EntryKind } from '../domain/backup-manifest.js';
import { OrchestratorError } from '../domain/errors.js';
import { isValidTaskId } from '../domain/ids.js';

/**
 * The whole task state of a store as entries: the unit that migrate copies, backup writes and restore
 * reads, named as in a backup archive (domain/backup-manifest.ts):
 *
 *   tasks/active/<id>.json, tasks/archive/<id>.json   a parent: its task file, byte for byte
 *   documents/tasks/work/<parent>/<subtask>.<n>.md     a detailed-work document, by the path its subtask names
 *   roles/<name>                                      a role file: default_roles.yaml, custom_roles.yaml, templates/<x>.md
 *   plan-keys/<sha256>.json                           a plan_task idempotency record
 */
export interface StateEntry {
  name: string;
  data: string;
}

export type Location = 'active' | 'archive';

/** What an entry names, checked: a bad name is refused before anything is written. */
export type EntryTarget =
  | { kind: 'parents_active' | 'parents_archived'; parentTaskId: string; location: Location }
  | { kind: 'documents'; path: string; parentTaskId: string; subtaskId: string; number: number }
  | { kind: 'role_files'; roleName: string }
  | { kind: 'plan_keys'; keySha256: string };

const DOCUMENT = /^tasks\/work\/([^/]+)\/([^/]+)\.(\d{1,9})\.md$/;
const ROLE = /^(default_roles\.yaml|custom_roles\.yaml|templates\/[^/]+\.md)$/;
const PLAN_KEY = /^plan-keys\/([0-9a-f]{64})\.json$/;

export function parentEntryName(parentTaskId: string, location: Location): string {
  return `tasks/${location}/${parentTaskId}.json`;
}

export function documentEntryName(documentPath: string): string {
  return `documents/${documentPath}`;
}

export function roleEntryName(roleName: string): string {
  return `roles/${roleName}`;
}

export function planKeyEntryName(keySha256: string): string {
  return `plan-keys/${keySha256}.json`;
}

/** The parts of an entry's name; INVALID_INPUT for a name no store could hold. */
export function targetOf(name: string): EntryTarget {
  const kind = entryKindOf(name);
  if (!kind.ok) throw new OrchestratorError('INVALID_INPUT', kind.message);
  const refuse = () => new OrchestratorError('INVALID_INPUT', `entry ${JSON.stringify(name.slice(0, 200))} names nothing a task store holds`);
  const rest = name.slice(name.indexOf('/') + 1);
  switch (kind.value as EntryKind) {
    case 'parents_active':
    case 'parents_archived': {
      const location: Location = kind.value === 'parents_active' ? 'active' : 'archive';
      const id = rest.slice(location.length + 1, -'.json'.length);
      if (!isValidTaskId(id)) throw refuse();
      return { kind: kind.value as 'parents_active' | 'parents_archived', parentTaskId: id, location };
    }
    case 'documents': {
      const match = DOCUMENT.exec(rest);
      if (!match || !isValidTaskId(match[1]!) || !isValidTaskId(match[2]!)) throw refuse();
      return { kind: 'documents', path: rest, parentTaskId: match[1]!, subtaskId: match[2]!, number: Number(match[3]) };
    }
    case 'role_files':
      if (!ROLE.test(rest) || rest === 'templates/README.md') throw refuse();
      return { kind: 'role_files', roleName: rest };
    case 'plan_keys': {
      const match = PLAN_KEY.exec(name);
      if (!match) throw refuse();
      return { kind: 'plan_keys', keySha256: match[1]! };
    }
  }
}

export interface PlanKeyFields {
  args_sha256: string;
  parent_task_id: string;
  at: string;
}

/** A plan key record as the file store writes it (tasks/idempotency/<sha256>.json): the one text both stores export. */
export function planKeyText(keySha256: string, record: PlanKeyFields): string {
  return `${JSON.stringify({ key_sha256: keySha256, args_sha256: record.args_sha256, parent_task_id: record.parent_task_id, at: record.at })}\n`;
}

/** The record in a plan key entry; INVALID_INPUT when it is not one. */
export function parsePlanKey(name: string, text: string): PlanKeyFields {
  let json: Partial<PlanKeyFields> | null = null;
  try {
    json = JSON.parse(text) as Partial<PlanKeyFields>;
  } catch {
    // refused below
  }
  if (!json || typeof json.args_sha256 !== 'string' || typeof json.parent_task_id !== 'string' || !isValidTaskId(json.parent_task_id) || typeof json.at !== 'string') {
    throw new OrchestratorError('INVALID_INPUT', `${name} is not a plan_task idempotency record`);
  }
  return { args_sha256: json.args_sha256, parent_task_id: json.parent_task_id, at: json.at };
}

/** Plan keys are compared by their record (a record written by another version may be spelt differently). */
export function sameEntry(name: string, a: string, b: string): boolean {
  if (a === b) return true;
  if (!name.startsWith('plan-keys/')) return false;
  try {
    const key = targetOf(name) as { keySha256: string };
    return planKeyText(key.keySha256, parsePlanKey(name, a)) === planKeyText(key.keySha256, parsePlanKey(name, b));
  } catch {
    return false;
  }
}

import { COMPLEXITY_LEVELS, CURRENT_FORMAT_VERSION, KNOWN_FORMAT_VERSIONS, SUBTASK_STATUSES, type ParentTask, type Subtask } from './model.js';
import { fail, ok, type Check } from './errors.js';
import { isValidTaskId } from './ids.js';
import { titleFrom } from './plan.js';

/**
 * Reading and writing task files. Fields this server does not know are kept, so a file passes through
 * without losing anything another version wrote into it. The checks are written out by hand rather
 * than with a schema library: the index reads every task file at start-up, and this is several times
 * faster, which is most of the cold start with thousands of tasks.
 */
type Json = Record<string, unknown>;

class ShapeError extends Error {}

/** Parses a task file's text. A failure says what is wrong, so the file can be reported and kept. */
export function parseTaskFile(text: string): Check<ParentTask> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail('STORE_CORRUPT', text.trim() === '' ? 'the file is empty' : `not valid JSON (${(error as Error).message})`);
  }
  if (nestedDeeperThan(json, MAX_NESTING)) {
    // JSON.parse copes with any depth, but writing the file back (JSON.stringify) recurses and would overflow the stack.
    return fail('STORE_CORRUPT', `nested deeper than ${MAX_NESTING} levels (task files need 4), which this server refuses to read`);
  }
  const version = isObject(json) ? json.version : undefined;
  if (typeof version === 'string' && isNewerVersion(version)) {
    return fail('UNSUPPORTED_VERSION', `format version ${version} is newer than this server understands (${KNOWN_FORMAT_VERSIONS.join(', ')}); upgrade task-orchestrator to work on it`, { version });
  }
  try {
    return ok(readParent(json));
  } catch (error) {
    if (error instanceof ShapeError) return fail('STORE_CORRUPT', `not a task file: ${error.message}`);
    throw error;
  }
}

/** Files are written in the current format, pretty-printed so a person can read and diff them. */
export function serializeTaskFile(parent: ParentTask): string {
  return `${JSON.stringify({ ...parent, version: CURRENT_FORMAT_VERSION }, null, 2)}\n`;
}

/** Task files nest 4 levels (parent, subtasks, subtask, dependencies); unknown fields get room, within reason. */
export const MAX_NESTING = 64;

/**
 * Whether objects and arrays nest more than `levels` deep, counting `value` as the first level. The
 * recursion is safe: it stops at `levels`. Children are tested before the call (most are text) and
 * arrays walked by index (for-in over an array is several times slower): about 10 % of JSON.parse.
 */
function nestedDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  const deeper = (child: unknown) => typeof child === 'object' && child !== null && nestedDeeperThan(child, levels - 1);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (deeper(value[i])) return true;
    return false;
  }
  for (const key in value) if (deeper((value as Json)[key])) return true;
  return false;
}

function readParent(json: unknown): ParentTask {
  if (!isObject(json)) throw new ShapeError('(top level): expected an object');
  const subtasks = json.subtasks;
  if (!Array.isArray(subtasks)) throw new ShapeError('subtasks: expected an array');
  const parent = {
    ...json,
    version: optionalText(json, 'version') ?? '1.0',
    parent_task_id: taskId(json, 'parent_task_id'),
    description: text(json, 'description'),
    complexity: oneOf(json, 'complexity', COMPLEXITY_LEVELS, 'moderate'),
    context: optionalText(json, 'context', true) ?? '',
    created_at: text(json, 'created_at'),
    subtasks: subtasks.map((s, i) => readSubtask(s, `subtasks.${i}`)),
  } as ParentTask;
  for (const key of ['title', 'updated_at'] as const) optionalText(json, key);
  optionalText(json, 'completed_at', true);
  if (json.status !== undefined) oneOf(json, 'status', ['active', 'completed'] as const, 'active');
  if (json.revision !== undefined && !(Number.isInteger(json.revision) && (json.revision as number) >= 0)) throw new ShapeError('revision: expected a whole number');
  const replies = json.idempotency;
  if (replies !== undefined && !(Array.isArray(replies) && replies.every((r) => isObject(r) && typeof r.key_sha256 === 'string' && typeof r.args_sha256 === 'string' && typeof r.at === 'string' && isObject(r.reply)))) {
    throw new ShapeError('idempotency: expected a list of {key_sha256, args_sha256, at, task_id, reply}');
  }
  if (json.history !== undefined) checkHistory(json.history);
  if (!parent.title) parent.title = titleFrom(parent.description);
  return parent;
}

/** history: absent (files written before it was kept) or a list of events; fields beyond these are kept. */
function checkHistory(history: unknown): void {
  if (!Array.isArray(history)) throw new ShapeError(`history: expected a list of events, got ${describe(history)}`);
  for (let i = 0; i < history.length; i++) {
    const event: unknown = history[i];
    const where = `history.${i}`;
    if (!isObject(event)) throw new ShapeError(`${where}: expected an object`);
    text(event, 'at', where);
    text(event, 'task_id', where);
    text(event, 'to', where);
    optionalText(event, 'agent', true, where);
    optionalText(event, 'from', true, where);
    optionalText(event, 'note', false, where);
    if (!(Number.isInteger(event.revision) && (event.revision as number) >= 0)) throw new ShapeError(`${where}.revision: expected a whole number`);
  }
}

function readSubtask(value: unknown, where: string): Subtask {
  if (!isObject(value)) throw new ShapeError(`${where}: expected an object`);
  const at = (field: string) => `${where}.${field}`;
  const effort = value.estimated_effort;
  if (effort !== undefined && effort !== null && typeof effort !== 'string' && typeof effort !== 'number') throw new ShapeError(`${at('estimated_effort')}: expected text`);
  const subtask = {
    ...value,
    task_id: taskId(value, 'task_id', where),
    title: text(value, 'title', where),
    description: optionalText(value, 'description', false, where) ?? '',
    specialist_type: nonEmpty(text(value, 'specialist_type', where), at('specialist_type')),
    dependencies: textList(value, 'dependencies', where),
    estimated_effort: effort === undefined || effort === null ? '' : String(effort),
    status: oneOf(value, 'status', SUBTASK_STATUSES, undefined, where),
    results: optionalText(value, 'results', true, where) ?? null,
    artifacts: textList(value, 'artifacts', where),
    created_at: text(value, 'created_at', where),
    completed_at: optionalText(value, 'completed_at', true, where) ?? null,
  } as Subtask;
  for (const key of ['handle', 'updated_at']) optionalText(value, key, false, where);
  for (const key of ['started_at', 'artifact_type', 'detailed_work_file', 'detailed_work_digest', 'blocked_reason']) optionalText(value, key, true, where);
  if (value.revision_notes !== undefined) textList(value, 'revision_notes', where);
  if (value.earlier_work_files !== undefined) textList(value, 'earlier_work_files', where);
  const owner = value.active_owner;
  if (owner !== undefined && owner !== null && !(isObject(owner) && typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.instance === 'string')) {
    throw new ShapeError(`${at('active_owner')}: expected {pid, host, instance} or null`);
  }
  const lease = value.lease;
  if (lease !== undefined && lease !== null && !(isObject(lease) && typeof lease.agent_id === 'string' && typeof lease.expires_at === 'string')) {
    throw new ShapeError(`${at('lease')}: expected {agent_id, expires_at} or null`);
  }
  for (const key of ['lost_leases', 'lost_results']) {
    const list = value[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((e) => isObject(e) && typeof e.agent_id === 'string'))) throw new ShapeError(`${at(key)}: expected a list of {agent_id, ...}`);
  }
  return subtask;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function path(where: string | undefined, field: string): string {
  return where ? `${where}.${field}` : field;
}

function text(json: Json, field: string, where?: string): string {
  const value = json[field];
  if (typeof value !== 'string') throw new ShapeError(`${path(where, field)}: expected text, got ${describe(value)}`);
  return value;
}

/** Text or absent (and null, where `nullable`). */
function optionalText(json: Json, field: string, nullable = false, where?: string): string | undefined {
  const value = json[field];
  if (value === undefined || (nullable && value === null)) return undefined;
  if (typeof value !== 'string') throw new ShapeError(`${path(where, field)}: expected text${nullable ? ' or null' : ''}, got ${describe(value)}`);
  return value;
}

function nonEmpty(value: string, where: string): string {
  if (!value) throw new ShapeError(`${where}: must not be empty`);
  return value;
}

function taskId(json: Json, field: string, where?: string): string {
  const id = text(json, field, where);
  if (!isValidTaskId(id)) throw new ShapeError(`${path(where, field)}: "${id.slice(0, 60)}" is not a valid task id`);
  return id;
}

function textList(json: Json, field: string, where?: string): string[] {
  const value = json[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new ShapeError(`${path(where, field)}: expected a list of text`);
  return value as string[];
}

function oneOf<T extends string>(json: Json, field: string, allowed: readonly T[], fallback: T | undefined, where?: string): T {
  const value = json[field];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ShapeError(`${path(where, field)}: expected one of ${allowed.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? `"${value.slice(0, 40)}"` : typeof value;
}

function isNewerVersion(version: string): boolean {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  const currentMajor = Number.parseInt(CURRENT_FORMAT_VERSION.split('.')[0]!, 10);
  return Number.isFinite(major) && major > currentMajor;
}

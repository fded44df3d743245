import * as z from 'zod';
import { COMPLEXITY_LEVELS, CURRENT_FORMAT_VERSION, KNOWN_FORMAT_VERSIONS, SUBTASK_STATUSES, type ParentTask } from './model.js';
import { fail, ok, type Check } from './errors.js';
import { isValidTaskId } from './ids.js';
import { titleFrom } from './plan.js';

/**
 * Reading and writing task files. Unknown fields are kept (loose objects), so a file passes through
 * this server without losing anything another version wrote into it.
 */
const nullableText = z.union([z.string(), z.null()]).optional();

const SubtaskSchema = z.looseObject({
  task_id: z.string().refine(isValidTaskId, 'not a valid task id'),
  title: z.string(),
  description: z.string().default(''),
  specialist_type: z.string().min(1),
  dependencies: z.array(z.string()).default([]),
  estimated_effort: z.union([z.string(), z.number(), z.null()]).transform((v) => (v === null ? '' : String(v))).default(''),
  status: z.enum(SUBTASK_STATUSES),
  results: z.union([z.string(), z.null()]).default(null),
  artifacts: z.array(z.string()).default([]),
  created_at: z.string(),
  completed_at: z.union([z.string(), z.null()]).default(null),
  handle: z.string().optional(),
  started_at: nullableText,
  active_owner: z.union([z.looseObject({ pid: z.number(), host: z.string(), instance: z.string() }), z.null()]).optional(),
  artifact_type: nullableText,
  detailed_work_file: nullableText,
  revision_notes: z.array(z.string()).optional(),
  blocked_reason: nullableText,
  updated_at: z.string().optional(),
});

const ParentSchema = z.looseObject({
  version: z.string().default('1.0'),
  parent_task_id: z.string().refine(isValidTaskId, 'not a valid task id'),
  description: z.string(),
  complexity: z.enum(COMPLEXITY_LEVELS).default('moderate'),
  context: z.union([z.string(), z.null()]).transform((v) => v ?? '').default(''),
  created_at: z.string(),
  subtasks: z.array(SubtaskSchema),
  title: z.string().optional(),
  status: z.enum(['active', 'completed']).optional(),
  completed_at: nullableText,
  updated_at: z.string().optional(),
  revision: z.number().int().nonnegative().optional(),
});

/** Parses a task file's text. A failure says what is wrong, so the file can be reported and kept. */
export function parseTaskFile(text: string): Check<ParentTask> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail('STORE_CORRUPT', text.trim() === '' ? 'the file is empty' : `not valid JSON (${(error as Error).message})`);
  }
  const version = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).version : undefined;
  if (typeof version === 'string' && isNewerVersion(version)) {
    return fail('UNSUPPORTED_VERSION', `format version ${version} is newer than this server understands (${KNOWN_FORMAT_VERSIONS.join(', ')}); upgrade task-orchestrator to work on it`, { version });
  }
  const parsed = ParentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail('STORE_CORRUPT', `not a task file: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const parent = parsed.data as ParentTask;
  if (!parent.title) parent.title = titleFrom(parent.description);
  return ok(parent);
}

/** Files are written in the current format, pretty-printed so a person can read and diff them. */
export function serializeTaskFile(parent: ParentTask): string {
  return `${JSON.stringify({ ...parent, version: CURRENT_FORMAT_VERSION }, null, 2)}\n`;
}

function isNewerVersion(version: string): boolean {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  const currentMajor = Number.parseInt(CURRENT_FORMAT_VERSION.split('.')[0]!, 10);
  return Number.isFinite(major) && major > currentMajor;
}

import * as z from 'zod';
import { SUBTASK_STATUSES } from '../../domain/model.js';

/** Output schemas are loose objects: a newer server may add fields without breaking older clients' validation. */
export const progressSchema = z.looseObject({
  parent_task_id: z.string(),
  completed_subtasks: z.number(),
  total_subtasks: z.number(),
  progress_percentage: z.number(),
});

export const subtaskBriefSchema = z.looseObject({ task_id: z.string(), title: z.string(), specialist_type: z.string() });

export const statusSchema = z.enum(SUBTASK_STATUSES);

export const countsSchema = z.looseObject(Object.fromEntries(SUBTASK_STATUSES.map((s) => [s, z.number()])) as Record<(typeof SUBTASK_STATUSES)[number], z.ZodNumber>);

export const storageProblemSchema = z.looseObject({
  file: z.string(),
  parent_task_id: z.string().nullable(),
  kind: z.string(),
  reason: z.string(),
  action: z.string(),
});

export const parentTaskIdField = z
  .string()
  .optional()
  .describe('Only needed when a subtask id exists in several tasks (possible with files from the Python orchestrator): the parent_task_id that holds it.');

export const agentIdField = z
  .string()
  .optional()
  .describe('Who is working on the subtask, when several agents share this project (e.g. "reviewer-2"; at most 100 characters). Default: this session. The subtask is leased to that agent: others are refused (SUBTASK_CLAIMED) until the lease expires.');

export const idempotencyKeyField = z
  .string()
  .optional()
  .describe('Makes a retry safe: a unique string per call (a UUID), sent again unchanged on every retry of it. A retry with the same key and arguments returns the first reply and changes nothing, from any server process; the same key with other arguments is refused (IDEMPOTENCY_CONFLICT). Keys are kept 24 h.');

export const leaseSchema = z.looseObject({ agent_id: z.string(), expires_at: z.string() });

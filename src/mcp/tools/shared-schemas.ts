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

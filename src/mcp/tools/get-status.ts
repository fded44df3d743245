import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import { DEFAULT_STATUS_LIMIT, MAX_STATUS_LIMIT, type GetStatusResult } from '../../app/get-status.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { countsSchema, statusSchema, storageProblemSchema } from './shared-schemas.js';

const row = z.looseObject({ task_id: z.string(), parent_task_id: z.string(), title: z.string(), status: statusSchema, specialist_type: z.string(), interrupted: z.boolean() });

export function registerGetStatus(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_get_status',
    {
      title: 'Show the status of tasks',
      description:
        'Counts subtasks per status and lists them (task_id, parent_task_id, title, status, specialist_type), most recently active tasks first, ' +
        `a page at a time (${DEFAULT_STATUS_LIMIT} by default; pass next_cursor to continue). Flags subtasks interrupted by a previous session and files that could not be read. ` +
        'Archived (completed) tasks are included only with include_completed or parent_task_id. Reads only.',
      inputSchema: z.object({
        include_completed: z.boolean().optional().describe('Include archived (completed) tasks. Default false.'),
        parent_task_id: z.string().optional().describe('Only the subtasks of this task (active or archived).'),
        status: statusSchema.optional().describe('Only subtasks with this status (counts still cover all).'),
        limit: z.number().int().min(1).max(MAX_STATUS_LIMIT).optional().describe(`Subtasks per page, 1 to ${MAX_STATUS_LIMIT}. Default ${DEFAULT_STATUS_LIMIT}.`),
        cursor: z.string().optional().describe('next_cursor from the previous page.'),
      }),
      outputSchema: z.looseObject({
        counts: countsSchema,
        parents: z.looseObject({ active: z.number(), archived: z.number().nullable() }),
        tasks: z.array(row),
        total_matching: z.number(),
        next_cursor: z.string().nullable(),
        interrupted_subtasks: z.array(row),
        storage_problems: z.array(storageProblemSchema),
      }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).getStatus(args), render),
  );
}

function render(r: GetStatusResult): string {
  const c = r.counts;
  const lines = [
    `${c.total} subtasks in ${r.parents.active} active task(s)${r.parents.archived !== null ? ` and ${r.parents.archived} archived` : ''}: ${c.pending} pending, ${c.active} active, ${c.completed} completed, ${c.blocked} blocked, ${c.failed} failed.`,
  ];
  let parent = '';
  for (const t of r.tasks) {
    if (t.parent_task_id !== parent) lines.push(`${(parent = t.parent_task_id)}:`);
    lines.push(`  ${t.task_id} [${t.status}${t.interrupted ? ', interrupted' : ''}] (${t.specialist_type}) ${t.title}`);
  }
  if (r.next_cursor) lines.push(`Showing ${r.tasks.length} of ${r.total_matching}; pass cursor "${r.next_cursor}" for more.`);
  for (const p of r.storage_problems) lines.push(`Storage problem: ${p.file}: ${p.reason}. ${p.action}`);
  if (r.storage_problem_count > r.storage_problems.length) lines.push(`... and ${r.storage_problem_count - r.storage_problems.length} more storage problems: run "task-orchestrator doctor" to see them all.`);
  return lines.join('\n');
}

import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import { DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, type GetHistoryResult } from '../../app/get-history.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { parentTaskIdField } from './shared-schemas.js';

const eventSchema = z.looseObject({ at: z.string(), agent: z.string().nullable(), task_id: z.string(), from: z.string().nullable(), to: z.string(), revision: z.number(), note: z.string().optional() });

export function registerGetHistory(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_get_history',
    {
      title: 'Show the history of a task',
      description:
        'Lists the transitions of a task, oldest first: when, by which agent, which subtask went from which status to which, the revision of the task file, and what was recorded ' +
        '(the start of the results, a forced start, a detailed-work file). Pass a parent task id for all of its events (planned, each subtask\'s, archived) or a subtask id for only that subtask\'s. ' +
        `A page at a time (${DEFAULT_HISTORY_LIMIT} by default; pass next_cursor to continue). Tasks stored before history was kept (e.g. by the Python orchestrator) have none. Reads only.`,
      inputSchema: z.object({
        task_id: z.string().describe('A parent task id ("task_3f9a2c1b7e") or a subtask id ("task_3f9a2c1b7e.2").'),
        parent_task_id: parentTaskIdField,
        limit: z.number().int().min(1).max(MAX_HISTORY_LIMIT).optional().describe(`Events per page, 1 to ${MAX_HISTORY_LIMIT}. Default ${DEFAULT_HISTORY_LIMIT}.`),
        cursor: z.string().optional().describe('next_cursor from the previous page.'),
      }),
      outputSchema: z.looseObject({
        task_id: z.string(),
        parent_task_id: z.string(),
        kind: z.enum(['parent', 'subtask']),
        events: z.array(eventSchema),
        total_events: z.number(),
        next_cursor: z.string().nullable(),
      }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).getHistory(args), render),
  );
}

function render(r: GetHistoryResult): string {
  const what = r.kind === 'parent' ? `Task ${r.task_id}` : `Subtask ${r.task_id} (of ${r.parent_task_id})`;
  if (r.total_events === 0) return `${what} has no recorded transitions: it was stored before history was kept (by the Python orchestrator or an older version), or nothing happened to it yet.`;
  const lines = [`${what}: ${r.total_events} event(s).`];
  for (const e of r.events) lines.push(`${e.at} ${e.task_id}: ${e.from ?? '(new)'} -> ${e.to} (revision ${e.revision}${e.agent ? `, ${e.agent}` : ''})${e.note ? `: ${e.note}` : ''}`);
  if (r.next_cursor) lines.push(`Showing ${r.events.length}; pass cursor "${r.next_cursor}" for the next ones.`);
  return lines.join('\n');
}

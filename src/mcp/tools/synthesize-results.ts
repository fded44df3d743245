import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import type { SynthesizeResult } from '../../app/synthesize-results.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { progressSchema, statusSchema } from './shared-schemas.js';

export function registerSynthesizeResults(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_synthesize_results',
    {
      title: 'Combine the results of a task',
      description:
        'Builds the final report of a task: every subtask\'s results grouped by specialist role, its artifacts, and an honest list of what is unfinished. ' +
        'Works on active and archived tasks. Use it when all subtasks are completed (completing the last one archived the task) or to review progress so far. Reads only: changes nothing. ' +
        'When the results are too long for one reply, the report comes in parts: call it again with next_cursor for the next part.',
      inputSchema: z.object({
        parent_task_id: z.string().describe('The parent task id returned by orchestrator_plan_task (e.g. "task_3f9a2c1b7e").'),
        cursor: z.string().optional().describe('next_cursor from the previous reply, for the next part of a report too long for one reply. Leave it out for the first part.'),
      }),
      outputSchema: z.looseObject({
        parent_task_id: z.string(),
        description: z.string(),
        complete: z.boolean(),
        archived: z.boolean(),
        progress: progressSchema,
        by_role: z.array(z.looseObject({ specialist_type: z.string(), subtasks: z.array(z.looseObject({ task_id: z.string(), title: z.string(), status: statusSchema, results: z.string().nullable() })) })),
        unfinished: z.array(z.looseObject({ task_id: z.string(), title: z.string(), status: statusSchema })),
        shown: z.looseObject({ first: z.number(), count: z.number(), total: z.number() }),
        next_cursor: z.string().nullable(),
        report: z.string(),
      }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).synthesizeResults(args), render),
  );
}

function render(r: SynthesizeResult): string {
  const lines = [r.report];
  if (r.next_cursor) lines.push('', `(Continued: call orchestrator_synthesize_results with parent_task_id "${r.parent_task_id}" and cursor "${r.next_cursor}" for subtasks ${r.shown.first + r.shown.count + 1} to ${r.shown.total}.)`);
  if (r.archived) lines.push('', '(The task is completed and archived.)');
  return lines.join('\n');
}

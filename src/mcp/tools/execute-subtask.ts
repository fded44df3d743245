import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import type { ExecuteSubtaskResult } from '../../app/execute-subtask.js';
import type { ProjectHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { parentTaskIdField } from './shared-schemas.js';

export function registerExecuteSubtask(server: McpServer, host: ProjectHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_execute_subtask',
    {
      title: 'Start a subtask and get its specialist prompt',
      description:
        'Marks a subtask active and returns the prompt for its specialist role: the role\'s definition, expertise, approach and output format, the overall goal and context, ' +
        'and the results of the subtasks it depends on. Adopt that role, do the work, then call orchestrator_complete_subtask. ' +
        'Refuses (naming them) while dependencies are unfinished, unless force is true. Also resumes a subtask interrupted by a previous session.',
      inputSchema: z.object({
        task_id: z.string().describe('The subtask id returned by orchestrator_plan_task (e.g. "task_3f9a2c1b7e.2").'),
        force: z.boolean().optional().describe('Start even though dependencies are unfinished, or run a completed subtask again. Default false.'),
        parent_task_id: parentTaskIdField,
      }),
      outputSchema: z.looseObject({
        task_id: z.string(),
        parent_task_id: z.string(),
        title: z.string(),
        specialist_type: z.string(),
        status: z.literal('active'),
        specialist_prompt: z.string(),
        role: z.looseObject({ name: z.string(), role_definition: z.string(), expertise: z.array(z.string()), approach: z.array(z.string()), output_format: z.string() }),
        dependency_results: z.array(z.looseObject({ task_id: z.string(), title: z.string(), status: z.string(), results: z.string().nullable() })),
        next_step: z.string(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).executeSubtask(args), render),
  );
}

function render(r: ExecuteSubtaskResult): string {
  const forced = r.forced_past_dependencies.length ? `Note: started with force although ${r.forced_past_dependencies.join(', ')} is not completed.\n\n` : '';
  return `${forced}${r.specialist_prompt}`;
}

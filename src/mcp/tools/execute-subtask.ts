import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import type { ExecuteSubtaskResult } from '../../app/execute-subtask.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { agentIdField, leaseSchema, parentTaskIdField } from './shared-schemas.js';

export function registerExecuteSubtask(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_execute_subtask',
    {
      title: 'Start a subtask and get its specialist prompt',
      description:
        'Marks a subtask active and returns, as the text of the reply, the prompt for its specialist role: the role\'s definition, expertise, approach and output format, the overall goal and context, ' +
        'and the results of the subtasks it depends on (structured content carries the ids, the role name and those results). Adopt that role, do the work, then call orchestrator_complete_subtask. ' +
        'Refuses (naming them) while dependencies are unfinished, unless force is true. Also resumes a subtask interrupted by a previous session. ' +
        'The subtask is leased to the calling agent (agent_id, default this session) until lease.expires_at: another agent is refused with SUBTASK_CLAIMED until then; calling again renews the lease; once it expires, another agent may take the subtask over.',
      inputSchema: z.object({
        task_id: z.string().describe('The subtask id returned by orchestrator_plan_task (e.g. "task_3f9a2c1b7e.2").'),
        force: z.boolean().optional().describe('Start even though dependencies are unfinished, or run a completed subtask again. Default false.'),
        parent_task_id: parentTaskIdField,
        agent_id: agentIdField,
      }),
      outputSchema: z.looseObject({
        task_id: z.string(),
        parent_task_id: z.string(),
        title: z.string(),
        specialist_type: z.string(),
        status: z.literal('active'),
        dependency_results: z.array(z.looseObject({ task_id: z.string(), title: z.string(), status: z.string(), results: z.string().nullable() })),
        forced_past_dependencies: z.array(z.string()),
        lease: leaseSchema,
        next_step: z.string(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      // Sent twice, a long prompt would cost the model its length again: it travels once, as text.
      let prompt = '';
      return runTool(
        logger,
        async () => {
          const { specialist_prompt, ...details } = await (await host.orchestrator()).executeSubtask(args);
          prompt = specialist_prompt;
          return details;
        },
        (details) => render(details, prompt),
      );
    },
  );
}

function render(r: Omit<ExecuteSubtaskResult, 'specialist_prompt'>, prompt: string): string {
  const unmet = r.forced_past_dependencies;
  const forced = unmet.length ? `Note: started with force although ${unmet.join(', ')} ${unmet.length === 1 ? 'is' : 'are'} not completed; this is recorded on the subtask.\n\n` : '';
  // The lease travels in structured content: the text is the prompt itself, which templates may fix word for word.
  return `${forced}${prompt}`;
}

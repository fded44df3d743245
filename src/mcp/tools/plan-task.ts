import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import type { PlanTaskResult } from '../../app/plan-task.js';
import { COMPLEXITY_LEVELS } from '../../domain/model.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { idempotencyKeyField } from './shared-schemas.js';

/**
 * A plain object: its JSON Schema has no additionalProperties, which strict hosts (OpenAI strict mode,
 * Gemini) need. Unknown fields are dropped before validatePlan sees them; subtasks_json passes the
 * Python orchestrator's items through untouched.
 */
const planItem = z.object({
  task_id: z.string().optional().describe('Your own short handle for this subtask (e.g. "design"), used only in dependencies of this plan. The server returns the real ids.'),
  title: z.string().describe('Short title, e.g. "Design the storage layer".'),
  description: z.string().optional().describe('What the specialist must do, with enough detail to do it without this conversation.'),
  specialist_type: z.string().describe('The role: architect, implementer, debugger, documenter, reviewer, tester, researcher, or a custom role from custom_roles.yaml.'),
  dependencies: z.array(z.string()).optional().describe('Subtasks of this plan that must be completed first, each named by its task_id or by its title (matched ignoring case and extra spaces; a title two subtasks share must be given as a task_id).'),
  estimated_effort: z.string().optional().describe('Rough effort, e.g. "30 minutes" or "2 hours".'),
});

export function registerPlanTask(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_plan_task',
    {
      title: 'Plan a task as specialist subtasks',
      description:
        'Store your breakdown of a complex task into subtasks, each for one specialist role, with the dependencies between them. ' +
        'A dependency names another subtask of the plan by its task_id or its title. Everything is validated before anything is stored (roles, dependency references, cycles, duplicate handles); a rejected plan stores nothing, so fix it and send it again. ' +
        'Returns the ids to use from now on and an execution_order. Next: orchestrator_execute_subtask on the first id of execution_order. Each call creates a new task, except a retry with the same idempotency_key, which returns the task the first call created.',
      inputSchema: z.object({
        description: z.string().describe('The overall goal, in one or two sentences.'),
        subtasks: z.array(planItem).optional().describe('The subtasks, in a sensible order. Use this or subtasks_json.'),
        subtasks_json: z.string().optional().describe('The same array as a JSON string (accepted for compatibility with the Python orchestrator). Use this or subtasks.'),
        complexity_level: z.enum(COMPLEXITY_LEVELS).optional().describe('How hard the whole task is: simple, moderate (default), complex or very_complex.'),
        context: z.string().optional().describe('Background every specialist should know: constraints, conventions, where the code lives.'),
        idempotency_key: idempotencyKeyField,
      }),
      outputSchema: z.looseObject({
        task_created: z.literal(true),
        parent_task_id: z.string(),
        subtasks: z.array(z.looseObject({ task_id: z.string(), title: z.string(), specialist_type: z.string(), dependencies: z.array(z.string()) })),
        execution_order: z.array(z.string()),
        next_step: z.string(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).planTask(args), render),
  );
}

function render(r: PlanTaskResult): string {
  const byId = new Map(r.subtasks.map((s) => [s.task_id, s]));
  const lines = [`${r.replayed ? 'Already created (a retry of the call with this idempotency_key): task' : 'Created task'} ${r.parent_task_id} with ${r.subtasks.length} subtasks (${r.complexity}).`, '', 'Execution order:'];
  r.execution_order.forEach((id, i) => {
    const s = byId.get(id)!;
    const deps = s.dependencies.length ? ` (after ${s.dependencies.join(', ')})` : '';
    lines.push(`${i + 1}. ${id} [${s.specialist_type}] ${s.title}${deps}`);
  });
  lines.push('', r.next_step);
  return lines.join('\n');
}

import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import type { CompleteSubtaskResult } from '../../app/complete-subtask.js';
import { ARTIFACT_TYPES, NEXT_ACTIONS } from '../../domain/model.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { agentIdField, idempotencyKeyField, parentTaskIdField, progressSchema, subtaskBriefSchema } from './shared-schemas.js';

export function registerCompleteSubtask(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_complete_subtask',
    {
      title: 'Record a subtask\'s results',
      description:
        'Records what a specialist produced and what happens next, durably, before answering. next_action "continue" or "complete" marks it completed; ' +
        '"needs_revision" sends it back to pending with these results kept as revision notes; "blocked" marks it blocked with the results as the reason. ' +
        'A subtask never started with orchestrator_execute_subtask is refused (UNMET_DEPENDENCIES, naming them) while its dependencies are unfinished, unless force is true; the override is recorded on the subtask. ' +
        'Returns the parent\'s progress and the next recommended subtask. When the last subtask completes, the task is archived: then call orchestrator_synthesize_results. ' +
        'Repeating the same call is harmless; with an idempotency_key a retry returns the first reply exactly. ' +
        'While another agent holds the subtask\'s lease the call is refused (SUBTASK_CLAIMED); an agent whose lease expired and was taken over gets LEASE_LOST, its results kept on the subtask and returned.',
      inputSchema: z.object({
        task_id: z.string().describe('The subtask id (as passed to orchestrator_execute_subtask).'),
        results: z.string().optional().describe('What was done and found. Use this, or summary (+ detailed_work).'),
        summary: z.string().optional().describe('A few sentences on what was done and found (alternative to results).'),
        detailed_work: z.string().optional().describe('The full work product (code, analysis, ...). Long text is stored in a file under .task_orchestrator/tasks/work/ and referenced, so later prompts stay short.'),
        artifacts: z.union([z.array(z.string()), z.string()]).optional().describe('Paths of files created or changed, or other artifact references.'),
        file_paths: z.array(z.string()).optional().describe('Same as artifacts (accepted for compatibility).'),
        artifact_type: z.enum(ARTIFACT_TYPES).optional().describe('Kind of artifacts: code, documentation, analysis, design, test, config or general.'),
        next_action: z.enum(NEXT_ACTIONS).optional().describe('continue (default) or complete: done; needs_revision: redo it; blocked: cannot proceed (say why in results).'),
        force: z.boolean().optional().describe('Record the results although the subtask was never started and its dependencies are unfinished (the override is recorded on the subtask). Default false.'),
        parent_task_id: parentTaskIdField,
        agent_id: agentIdField,
        idempotency_key: idempotencyKeyField,
      }),
      outputSchema: z.looseObject({
        task_id: z.string(),
        status: z.string(),
        results_recorded: z.literal(true),
        parent_task_progress: progressSchema,
        next_recommended_task: subtaskBriefSchema.nullable(),
        parent_completed: z.boolean(),
        forced_past_dependencies: z.array(z.string()),
        next_step: z.string(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).completeSubtask(args), render),
  );
}

function render(r: CompleteSubtaskResult): string {
  const p = r.parent_task_progress;
  const lines = [
    `${r.replayed ? 'Already recorded (a retry of the call with this idempotency_key; its first reply follows)' : r.already_recorded ? 'Already recorded' : 'Recorded'}: ${r.task_id} is now ${r.status}.`,
    `Progress of ${p.parent_task_id}: ${p.completed_subtasks}/${p.total_subtasks} subtasks completed (${p.progress_percentage}%).`,
  ];
  if (r.forced_past_dependencies.length) lines.push(`Note: completed with force although ${r.forced_past_dependencies.join(', ')} ${r.forced_past_dependencies.length === 1 ? 'is' : 'are'} not completed; this is recorded on the subtask.`);
  if (r.detailed_work_file) lines.push(`Detailed work stored in .task_orchestrator/${r.detailed_work_file}`);
  lines.push(r.next_step);
  return lines.join('\n');
}

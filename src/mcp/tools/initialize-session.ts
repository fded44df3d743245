import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import { ACTIVE_TASKS_PAGE, type InitializeSessionResult } from '../../app/initialize-session.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';
import { countsSchema, progressSchema, storageProblemSchema, subtaskBriefSchema } from './shared-schemas.js';

export function registerInitializeSession(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_initialize_session',
    {
      title: 'Start an orchestration session',
      description:
        'Call this first in every conversation (and after a restart or context reset). Returns how to orchestrate, the specialist roles available, ' +
        `and the unfinished tasks with their progress and subtasks, including subtasks interrupted when a previous session stopped, so you can offer the user to resume: ` +
        `${ACTIVE_TASKS_PAGE} tasks per reply, most recently updated first, with active_task_count (all of them) and next_cursor (pass it as cursor for the next ${ACTIVE_TASKS_PAGE}). ` +
        'Next: orchestrator_plan_task for new work, or orchestrator_execute_subtask to resume. Changes no task; safe to call any time (the first call in a folder sets up .task_orchestrator/ and finishes work a crash left half done).',
      inputSchema: z.object({
        working_directory: z
          .string()
          .optional()
          .describe('Absolute path of the project folder whose .task_orchestrator/ holds the tasks. Needed when the client starts the server outside the project; ignored when MCP_TASK_ORCHESTRATOR_BASE_DIR is set and by a server over HTTP, which serves the project it was started in.'),
        cursor: z.string().optional().describe('next_cursor from the previous reply, for the next page of unfinished tasks. Leave it out for the first page.'),
      }),
      outputSchema: z.looseObject({
        session_initialized: z.literal(true),
        base_dir: z.string(),
        orchestrator_context: z.looseObject({ role: z.string(), capabilities: z.array(z.string()), instructions: z.string(), specialist_roles: z.record(z.string(), z.string()) }),
        active_tasks: z.array(
          z.looseObject({
            parent_task_id: z.string(),
            description: z.string(),
            progress: progressSchema,
            status_counts: countsSchema,
            subtasks: z.array(z.looseObject({ task_id: z.string(), title: z.string(), status: z.string() })),
            interrupted_subtasks: z.array(subtaskBriefSchema),
            next_recommended_task: subtaskBriefSchema.nullable(),
          }),
        ),
        active_task_count: z.number(),
        next_cursor: z.string().nullable(),
        storage_problems: z.array(storageProblemSchema),
        role_file_errors: z.array(z.string()),
        resume_hint: z.string(),
      }),
      // Not read-only, honestly: working_directory moves the server to another project folder, and opening
      // a folder (this first call usually does it) creates .task_orchestrator/ and runs recovery, which
      // archives completed parents left in tasks/active/ and removes dead writers' temp files. None of it
      // changes a task's content or loses anything, and a repeated call changes nothing more: idempotent,
      // not destructive.
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ working_directory, cursor }) =>
      runTool(
        logger,
        async () => {
          if (working_directory) await host.moveTo(working_directory);
          return (await host.orchestrator()).initializeSession({ cursor });
        },
        render,
      ),
  );
}

function render(r: InitializeSessionResult): string {
  const lines = [`Task orchestrator ready. Project: ${r.base_dir}`, '', r.orchestrator_context.instructions, '', 'Specialist roles:'];
  for (const [name, summary] of Object.entries(r.orchestrator_context.specialist_roles)) lines.push(`- ${name}: ${summary}`);
  if (r.active_tasks.length) lines.push('', `Unfinished tasks (${r.active_tasks.length < r.active_task_count ? `${r.active_tasks.length} of ${r.active_task_count}` : r.active_task_count}):`);
  for (const t of r.active_tasks) {
    lines.push(`- ${t.parent_task_id} "${t.title}": ${t.progress.completed_subtasks}/${t.progress.total_subtasks} done (${t.progress.progress_percentage}%)`);
    for (const s of t.interrupted_subtasks) lines.push(`    interrupted: ${s.task_id} (${s.specialist_type}) ${s.title}`);
    if (t.next_recommended_task) lines.push(`    next: ${t.next_recommended_task.task_id} (${t.next_recommended_task.specialist_type}) ${t.next_recommended_task.title}`);
  }
  for (const p of r.storage_problems) lines.push(`Storage problem: ${p.file}: ${p.reason}. ${p.action}`);
  if (r.storage_problem_count > r.storage_problems.length) lines.push(`... and ${r.storage_problem_count - r.storage_problems.length} more storage problems: run "task-orchestrator doctor" to see them all.`);
  for (const e of r.role_file_errors) lines.push(`Role file problem: ${e}`);
  lines.push('', r.resume_hint);
  return lines.join('\n');
}

import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import { MAINTENANCE_ACTIONS, MAX_ITEMS_LISTED, type MaintenanceResult } from '../../app/maintenance.js';
import type { ToolHost } from '../project-host.js';
import { runTool } from '../tool-result.js';

export function registerMaintenance(server: McpServer, host: ToolHost, logger: Logger): void {
  server.registerTool(
    'orchestrator_maintenance',
    {
      title: 'Check and tidy the task store',
      description:
        'Looks after .task_orchestrator/. action "report": the health findings of "task-orchestrator doctor" (problems first, each with what it means and what to do); changes nothing. ' +
        '"release_expired_leases": puts active subtasks whose lease expired, or whose server is gone, back to pending so they can be executed again (recorded in their history). ' +
        '"archive_finished": moves completed tasks still in tasks/active/ to tasks/archive/. "repair": the safe repairs of "doctor --fix" (missing folders, leftover locks and temporary files, ' +
        'unarchived tasks; a corrupted task file is moved to tasks/corrupted/ with a report, never deleted). Nothing here deletes a task or its results, and there is no action that would: ' +
        `do that by hand. Each reply lists the first ${MAX_ITEMS_LISTED} items with counts.`,
      inputSchema: z.object({
        action: z.enum(MAINTENANCE_ACTIONS).describe('report (read only), release_expired_leases, archive_finished or repair.'),
      }),
      outputSchema: z.looseObject({
        action: z.enum(MAINTENANCE_ACTIONS),
        summary: z.string(),
        items: z.array(z.looseObject({})),
        total_items: z.number(),
        counts: z.record(z.string(), z.number()),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => runTool(logger, async () => (await host.orchestrator()).maintain(args), render),
  );
}

function render(r: MaintenanceResult): string {
  const lines = [r.summary];
  for (const item of r.items) lines.push(`- ${describe(r.action, item)}`);
  if (r.total_items > r.items.length) lines.push(`... and ${r.total_items - r.items.length} more${r.action === 'report' ? ': run "task-orchestrator doctor" to see them all' : ''}.`);
  return lines.join('\n');
}

function describe(action: MaintenanceResult['action'], item: Record<string, unknown>): string {
  switch (action) {
    case 'report':
      return `${String(item.severity)}: ${String(item.subject)}: ${String(item.message)}. ${String(item.remedy)}`;
    case 'release_expired_leases':
      return item.failed ? `${String(item.parent_task_id)}: not changed: ${String(item.reason)}` : `${String(item.task_id)} back to pending: ${String(item.reason)}`;
    case 'archive_finished':
      return item.failed ? `${String(item.parent_task_id)}: not archived: ${String(item.reason)}` : `${String(item.parent_task_id)} archived`;
    case 'repair':
      return `${String(item.subject)}: ${String(item.action)}`;
  }
}

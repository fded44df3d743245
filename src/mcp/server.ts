import { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../app/ports.js';
import { VERSION } from '../version.js';
import type { ToolHost } from './project-host.js';
import { refusingBadInput } from './tool-result.js';
import { registerCompleteSubtask } from './tools/complete-subtask.js';
import { registerExecuteSubtask } from './tools/execute-subtask.js';
import { registerGetHistory } from './tools/get-history.js';
import { registerGetStatus } from './tools/get-status.js';
import { registerInitializeSession } from './tools/initialize-session.js';
import { registerMaintenance } from './tools/maintenance.js';
import { registerPlanTask } from './tools/plan-task.js';
import { registerSynthesizeResults } from './tools/synthesize-results.js';

/** The MCP server with its tools, not yet connected to a transport (stdio or, one per session, HTTP in the CLI; in-memory in tests). */
export function createServer(host: ToolHost, logger: Logger): McpServer {
  const server = new McpServer(
    { name: 'task-orchestrator', version: VERSION },
    {
      instructions:
        'Orchestrates complex work across specialist roles and keeps it on disk. Start with orchestrator_initialize_session; ' +
        'plan with orchestrator_plan_task; run each subtask with orchestrator_execute_subtask and orchestrator_complete_subtask; finish with orchestrator_synthesize_results.',
    },
  );
  const tools = refusingBadInput(server, logger);
  for (const register of [registerInitializeSession, registerPlanTask, registerExecuteSubtask, registerCompleteSubtask, registerSynthesizeResults, registerGetStatus, registerGetHistory, registerMaintenance]) {
    register(tools, host, logger);
  }
  return server;
}

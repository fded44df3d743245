/**
 * Contention worker: after "go" on stdin, executes and completes its share of the subtasks of one
 * shared parent (subtask k belongs to worker (k - 1) % workers), one acknowledged line per write:
 *   ack execute <task_id> / ack complete <task_id>
 */
import { readSettings } from '../../../src/config.js';
import { openProject } from '../../../src/compose/open-project.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { commandFromParent, say } from './worker-io.js';

const [dir, parentTaskId, indexText, workersText, countText] = process.argv.slice(2);
if (!dir || !parentTaskId || !indexText || !workersText || !countText) throw new Error('usage: complete-share <dir> <parent_task_id> <index> <workers> <subtask count>');
const index = Number(indexText);
const workers = Number(workersText);
const count = Number(countText);

const project = await openProject(dir, readSettings({ MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: '60000' }), silentLogger);
say('ready');
await commandFromParent('go');
for (let k = index + 1; k <= count; k += workers) {
  const taskId = `${parentTaskId}.${k}`;
  // No parent_task_id: the subtask is found through the index, as an assistant would call it.
  await project.orchestrator.executeSubtask({ task_id: taskId });
  say(`ack execute ${taskId}`);
  await project.orchestrator.completeSubtask({ task_id: taskId, results: `worker ${index} completed ${taskId}` });
  say(`ack complete ${taskId}`);
}
const status = await project.orchestrator.getStatus({ parent_task_id: parentTaskId });
say(`seen ${status.counts.completed}`);
await project.close();
process.exit(0);

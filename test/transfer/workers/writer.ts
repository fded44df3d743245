/**
 * Writer for the backup tests: plans `count` parents and executes and completes the first subtask of
 * each, printing one line per acknowledged change: "ack plan <parent>" / "ack complete <subtask> <parent>".
 * The store is the one the environment chooses (MCP_TASK_ORCHESTRATOR_DATABASE_URL for PostgreSQL).
 */
import { readSettings } from '../../../src/config.js';
import { openProject } from '../../../src/compose/open-project.js';
import { silentLogger } from '../../../src/logging/logger.js';

const [dir, index, countText] = process.argv.slice(2);
if (!dir || !index || !countText) throw new Error('usage: writer <dir> <index> <count>');
const project = await openProject(dir, readSettings(process.env), silentLogger);
const app = project.orchestrator;
for (let i = 0; i < Number(countText); i++) {
  const plan = await app.planTask({
    description: `writer ${index} item ${i}`,
    subtasks: [
      { task_id: 'a', title: 'first', description: 'do a', specialist_type: 'implementer' },
      { task_id: 'b', title: 'second', description: 'do b', specialist_type: 'implementer' },
    ],
  });
  process.stdout.write(`ack plan ${plan.parent_task_id}\n`);
  const a = plan.subtasks[0]!.task_id;
  await app.executeSubtask({ task_id: a });
  await app.completeSubtask({ task_id: a, results: `writer ${index} did ${i}`, next_action: 'continue' });
  process.stdout.write(`ack complete ${a} ${plan.parent_task_id}\n`);
}
await project.close();
process.exit(0);

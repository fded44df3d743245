/**
 * Crash-test worker: once told "go <seed>" on stdin, plans parents and executes and completes their subtasks, two streams at once,
 * until it is killed. One stdout line per acknowledged operation, printed only after the awaited call
 * returned, so every line names a change that the store promised is on disk:
 *   ack plan <parent_task_id> <subtask count>
 *   ack execute <parent_task_id> <task_id>
 *   ack complete <parent_task_id> <task_id> <detailed_work_file or ->
 */
import { readSettings } from '../../../src/config.js';
import { openProject } from '../../../src/compose/open-project.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { seededRandom } from './random.js';
import { commandFromParent, say } from './worker-io.js';

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: op-stream <project dir>, then "go <seed>" on stdin');
const ROLES = ['architect', 'implementer', 'tester', 'documenter'];

// Started ahead of time (loading the code is most of a start): touch nothing until told to go.
say('loaded');
const random = seededRandom(Number(await commandFromParent('go')));

const project = await openProject(dir, readSettings({ MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: '30000' }), silentLogger);
const orchestrator = project.orchestrator;
say(`ready ${process.pid}`);

async function stream(lane: number): Promise<never> {
  for (let n = 0; ; n++) {
    const count = 2 + Math.floor(random() * 4);
    const subtasks = Array.from({ length: count }, (_, i) => ({
      task_id: `s${i}`,
      title: `Step ${i} of parent ${n} in lane ${lane}`,
      description: `Work item ${i}`,
      specialist_type: ROLES[i % ROLES.length]!,
      dependencies: i > 0 && random() < 0.5 ? [`s${i - 1}`] : [],
    }));
    const plan = await orchestrator.planTask({ description: `Crash stream ${lane}, parent ${n}, pid ${process.pid}`, subtasks });
    say(`ack plan ${plan.parent_task_id} ${count}`);
    for (const taskId of plan.execution_order) {
      await orchestrator.executeSubtask({ task_id: taskId });
      say(`ack execute ${plan.parent_task_id} ${taskId}`);
      // One completion in four carries long detailed work, which goes to its own durable file first.
      const detailed = random() < 0.25 ? `${'detailed work '.repeat(200)}for ${taskId}` : undefined;
      const reply = await orchestrator.completeSubtask({ task_id: taskId, results: `result of ${taskId}`, detailed_work: detailed });
      say(`ack complete ${plan.parent_task_id} ${taskId} ${reply.detailed_work_file ?? '-'}`);
    }
  }
}

await Promise.all([stream(0), stream(1)]);

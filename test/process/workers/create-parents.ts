/**
 * Contention worker: after "go" on stdin, creates parents at the same moment as other processes.
 *   narrow: through FileTaskStore.create with ids drawn from a tiny space shared with the other
 *           creators, so that two processes draw the same id again and again;
 *   plan:   through orchestrator.planTask, as the MCP tool does.
 * Prints "created <parent_task_id> <description>" per acknowledged create, and "draws <n>" at the end.
 */
import { readSettings } from '../../../src/config.js';
import type { ParentTask } from '../../../src/domain/model.js';
import { FileTaskStore } from '../../../src/store/file/file-task-store.js';
import { layoutFor } from '../../../src/store/file/layout.js';
import { defaultLockOptions, LockManager } from '../../../src/store/file/lock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { openProject } from '../../../src/compose/open-project.js';
import { commandFromParent, say } from './worker-io.js';

const [mode, dir, tag, countText, spaceText] = process.argv.slice(2);
if ((mode !== 'narrow' && mode !== 'plan') || !dir || !tag || !countText) throw new Error('usage: create-parents narrow|plan <dir> <tag> <count> [id space]');
const count = Number(countText);
const space = Number(spaceText ?? 32);
let draws = 0;

if (mode === 'narrow') {
  const layout = layoutFor(dir);
  const store = await FileTaskStore.open({
    layout,
    logger: silentLogger,
    locks: new LockManager(layout.locksDir, defaultLockOptions({ timeoutMs: 60_000 })),
    randomHex: (chars) => {
      draws++;
      return `c0ffee${Math.floor(Math.random() * space).toString(16).padStart(4, '0')}`.slice(0, chars);
    },
  });
  say('ready');
  await commandFromParent('go');
  for (let i = 0; i < count; i++) {
    const description = `${tag} parent ${i}`;
    const parent = await store.create((id): ParentTask => ({
      version: '2.0',
      parent_task_id: id,
      description,
      complexity: 'simple',
      context: '',
      created_at: new Date().toISOString(),
      revision: 1,
      subtasks: [{ task_id: `${id}.1`, title: 'Only step', description: '', specialist_type: 'implementer', dependencies: [], estimated_effort: '', status: 'pending', results: null, artifacts: [], created_at: new Date().toISOString(), completed_at: null }],
    }));
    say(`created ${parent.parent_task_id} ${description}`);
  }
} else {
  const project = await openProject(dir, readSettings({ MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS: '60000' }), silentLogger);
  say('ready');
  await commandFromParent('go');
  for (let i = 0; i < count; i++) {
    const description = `${tag} parent ${i}`;
    const plan = await project.orchestrator.planTask({ description, subtasks: [{ title: 'Only step', specialist_type: 'researcher' }] });
    draws++;
    say(`created ${plan.parent_task_id} ${description}`);
  }
}
say(`draws ${draws}`);
process.exit(0);

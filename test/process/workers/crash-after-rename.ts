/**
 * Dies (SIGKILL, by its own hand) at the worst moment of completing a parent: the task file that
 * completes it has been renamed into place, and nothing after that has run (no journal line, no
 * archive move, no index cache). Before that it stores the parent and closes the store once, so the
 * index cache on disk knows the parent as active.
 *   crash-after-rename <dir>   prints "parent <id>" then dies
 */
import { FileTaskStore } from '../../../src/store/file/file-task-store.js';
import { nodeFs, type DurableFs } from '../../../src/store/file/durable-fs.js';
import { layoutFor } from '../../../src/store/file/layout.js';
import { defaultLockOptions, LockManager } from '../../../src/store/file/lock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { CURRENT_FORMAT_VERSION, type ParentTask } from '../../../src/domain/model.js';
import { say } from './worker-io.js';

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: crash-after-rename <dir>');
const layout = layoutFor(dir);
const open = (fs: DurableFs) => FileTaskStore.open({ layout, logger: silentLogger, locks: new LockManager(layout.locksDir, defaultLockOptions({})), fs });

const now = new Date().toISOString();
const first = await open(nodeFs);
const parent = await first.create((id): ParentTask => ({
  version: CURRENT_FORMAT_VERSION,
  parent_task_id: id,
  description: 'Finish me',
  complexity: 'simple',
  context: '',
  created_at: now,
  status: 'active',
  subtasks: [{ task_id: `${id}.1`, title: 'Only step', description: 'd', specialist_type: 'implementer', dependencies: [], estimated_effort: '', status: 'pending', results: null, artifacts: [], created_at: now, completed_at: null }],
}));
await first.close(); // the index cache now holds the parent, active
say(`parent ${parent.parent_task_id}`);

const dying: DurableFs = {
  ...nodeFs,
  async rename(from, to) {
    await nodeFs.rename(from, to);
    if (to.endsWith(`${parent.parent_task_id}.json`)) process.kill(process.pid, 'SIGKILL');
  },
};
const second = await open(dying);
await second.update(parent.parent_task_id, (p) => ({ ...p, status: 'completed', completed_at: now, subtasks: p.subtasks.map((s) => ({ ...s, status: 'completed', results: 'done', completed_at: now })) }));
say('not reached');

/**
 * One read-modify-write of a parent that stops in the middle, for the stale-takeover repro:
 *   fenced-writer <dir> <parent_task_id> <tag> <staleMs> <refreshMs>
 * prints "ready"; on "write" it updates the parent (appending " <tag>" to its context) and, inside the
 * lock, prints "inside" and waits for "continue"; then prints "ack <revision>" or "error <code> <message>".
 */
import { OrchestratorError } from '../../../src/domain/errors.js';
import { FileTaskStore } from '../../../src/store/file/file-task-store.js';
import { layoutFor } from '../../../src/store/file/layout.js';
import { defaultLockOptions, LockManager } from '../../../src/store/file/lock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { commandFromParent, say } from './worker-io.js';

const [dir, parentTaskId, tag, staleText, refreshText] = process.argv.slice(2);
if (!dir || !parentTaskId || !tag || !staleText || !refreshText) throw new Error('usage: fenced-writer <dir> <parent_task_id> <tag> <staleMs> <refreshMs>');
const layout = layoutFor(dir);
const locks = new LockManager(layout.locksDir, defaultLockOptions({ staleMs: Number(staleText), refreshMs: Number(refreshText), timeoutMs: 20_000, onTakeover: (_n, owner, reason) => say(`takeover ${owner?.pid ?? '?'} ${reason}`) }));
const store = await FileTaskStore.open({ layout, logger: silentLogger, locks, recover: false });
say('ready');
await commandFromParent('write');
try {
  const stored = await store.update(parentTaskId, async (parent) => {
    say('inside');
    await commandFromParent('continue');
    return { ...parent, context: `${parent.context} ${tag}` };
  });
  say(`ack ${stored.revision}`);
} catch (error) {
  say(`error ${error instanceof OrchestratorError ? error.code : 'OTHER'} ${(error as Error).message.replace(/\n/g, ' ')}`);
}
await commandFromParent('exit');
process.exit(0);

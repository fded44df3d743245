/**
 * Worker for the hostile-folder tests, started under `ulimit` by the test: opens a project, then works
 * on it while a file-system limit bites, and prints one JSON line with the outcome.
 *   update <baseDir> <parentId>          changes the parent (its lock file cannot be written: EFBIG under ulimit -f 0)
 *   update-emfile <baseDir> <parentId>   the same with every file descriptor taken (EMFILE)
 *   session-emfile <baseDir>             orchestrator_initialize_session with every file descriptor taken
 *   vanishing-lock <locksDir>            takes a lock whose file exists but is gone at every look (observe
 *                                        returns null), with a 500 ms timeout; reports the outcome and how
 *                                        often a 10 ms timer fired meanwhile (0: the loop starved the process)
 */
import { closeSync, openSync } from 'node:fs';
import { readSettings } from '../../../src/config.js';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { defaultLockOptions, LockManager, type ObservedLock } from '../../../src/store/file/lock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { openProject } from '../../../src/compose/open-project.js';

const [mode, baseDir, parentId] = process.argv.slice(2);
if (!mode || !baseDir) throw new Error('usage: hostile-worker update|update-emfile|session-emfile <baseDir> [parentId]');

/** Opens /dev/null until the process runs out of file descriptors; returns them, to be closed afterwards. */
function takeEveryDescriptor(): number[] {
  const taken: number[] = [];
  for (;;) {
    try {
      taken.push(openSync('/dev/null', 'r'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EMFILE') return taken;
      throw error;
    }
  }
}

async function outcome(work: () => Promise<unknown>, starved: boolean): Promise<unknown> {
  const taken = starved ? takeEveryDescriptor() : [];
  try {
    return await work();
  } catch (error) {
    if (error instanceof OrchestratorError) return { code: error.code, errno: error.data.errno, message: error.message };
    return { code: 'OTHER', message: String((error as Error).stack) };
  } finally {
    for (const fd of taken) closeSync(fd);
  }
}

if (mode === 'vanishing-lock') {
  /** A lock file that exists for link() but never when looked at: the retry loop must still sleep and give up. */
  class VanishingLocks extends LockManager {
    override async observe(): Promise<ObservedLock | null> {
      return null;
    }
  }
  const locks = new VanishingLocks(baseDir, defaultLockOptions({ timeoutMs: 500 }));
  const { writeFileSync, mkdirSync } = await import('node:fs');
  mkdirSync(baseDir, { recursive: true });
  writeFileSync(locks.lockPath('task_0000000001'), '{}');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const started = Date.now();
  const result = await outcome(() => locks.withLock('task_0000000001', async () => ({ code: 'OK' })), false);
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ ...(result as object), ticks, ms: Date.now() - started })}\n`);
  process.exit(0);
}

const project = await openProject(baseDir, readSettings({}), silentLogger, { recover: false });
const change = () => project.store.update(parentId!, (p) => ({ ...p, context: 'changed' })).then(() => ({ code: 'OK' }));
const result =
  mode === 'update' ? await outcome(change, false)
  : mode === 'update-emfile' ? await outcome(change, true)
  : mode === 'session-emfile' ? await outcome(() => project.orchestrator.initializeSession(), true)
  : { code: 'OTHER', message: `unknown mode ${mode}` };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

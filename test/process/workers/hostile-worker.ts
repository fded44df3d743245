/**
 * Worker for the hostile-folder tests, started under `ulimit` by the test: opens a project, then works
 * on it while a file-system limit bites, and prints one JSON line with the outcome.
 *   update <baseDir> <parentId>          changes the parent (its lock file cannot be written: EFBIG under ulimit -f 0)
 *   update-emfile <baseDir> <parentId>   the same with every file descriptor taken (EMFILE)
 *   session-emfile <baseDir>             orchestrator_initialize_session with every file descriptor taken
 */
import { closeSync, openSync } from 'node:fs';
import { readSettings } from '../../../src/config.js';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { silentLogger } from '../../../src/storage/logger.js';
import { openProject } from '../../../src/storage/open-project.js';

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

const project = await openProject(baseDir, readSettings({}), silentLogger, { recover: false });
const change = () => project.store.update(parentId!, (p) => ({ ...p, context: 'changed' })).then(() => ({ code: 'OK' }));
const result =
  mode === 'update' ? await outcome(change, false)
  : mode === 'update-emfile' ? await outcome(change, true)
  : mode === 'session-emfile' ? await outcome(() => project.orchestrator.initializeSession(), true)
  : { code: 'OTHER', message: `unknown mode ${mode}` };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

import path from 'node:path';
import { defaultLockOptions, LockManager } from '../../src/store/file/lock.js';

/**
 * Holds a task's lock from the test process, the way another server would while it changes that task:
 * a server's call on the task waits until `release` (up to its lock timeout). It makes "a call in
 * flight" something a test can hold still.
 */
export async function holdTaskLock(projectDir: string, parentTaskId: string): Promise<{ release(): Promise<void> }> {
  const locks = new LockManager(path.join(projectDir, '.task_orchestrator', 'locks'), defaultLockOptions({ timeoutMs: 5_000 }));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  const done = locks.withLock(parentTaskId, async () => {
    held();
    await released;
  });
  await holding;
  return {
    async release() {
      release();
      await done;
      locks.close();
    },
  };
}

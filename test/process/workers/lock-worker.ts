/**
 * Lock worker, one LockManager per process, all on the same locks/ folder.
 *   hold <locksDir> <name> <staleMs> <refreshMs> <holdMs>
 *       takes the lock, prints "held <pid>", keeps it (refreshing) for holdMs (0: until killed; -1: until
 *       "release" on stdin), then
 *       prints "still-mine <true|false>" (whether the lock file is still its own) and releases it.
 *   wait <locksDir> <name> <staleMs> <refreshMs> <timeoutMs>
 *       prints "ready", tries to take the lock; prints "acquired" or "error <code> <message>".
 *   race <locksDir> <name> <staleMs> <rounds> <logFile>
 *       prints "ready", waits for "go", then <rounds> times: under the lock, appends "enter <pid>",
 *       sleeps, appends "exit <pid>" to logFile (O_APPEND). Prints "takeover <reason>" per takeover.
 *   restart <locksDir> <name> <staleMs> <timeoutMs>
 *       prints "ns <pid namespace>", waits for "verdict go" (or "verdict quit": exits), then takes the lock
 *       like wait.
 * Every mode first prints "ns <pid namespace> <Date.now()>" (the clock shows faketime at work).
 */
import { appendFile, readFile } from 'node:fs/promises';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { defaultLockOptions, LockManager, parseOwner } from '../../../src/store/file/lock.js';
import { selfIdentity } from '../../../src/store/file/owner.js';
import { commandFromParent, say } from './worker-io.js';

const [mode, locksDir, name, ...rest] = process.argv.slice(2);
if (!mode || !locksDir || !name) throw new Error('usage: lock-worker hold|wait|race <locksDir> <name> ...');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const numbers = rest.map(Number);
say(`ns ${selfIdentity().pidns} ${Date.now()}`);

if (mode === 'hold') {
  const [staleMs = 30_000, refreshMs = 5_000, holdMs = 0] = numbers;
  const locks = new LockManager(locksDir, defaultLockOptions({ staleMs, refreshMs, timeoutMs: 10_000 }));
  await locks.withLock(name, async () => {
    say(`held ${process.pid}`);
    if (holdMs === 0) {
      setInterval(() => undefined, 60_000); // the lock's own heartbeat timer does not keep a process alive
      await new Promise(() => undefined);
    }
    if (holdMs < 0) await commandFromParent('release');
    else await sleep(holdMs);
    const owner = parseOwner(await readFile(locks.lockPath(name), 'utf8').catch(() => ''));
    say(`still-mine ${owner?.pid === process.pid}`);
  });
  say('released');
} else if (mode === 'wait') {
  const [staleMs = 30_000, refreshMs = 5_000, timeoutMs = 10_000] = numbers;
  const locks = new LockManager(locksDir, defaultLockOptions({ staleMs, refreshMs, timeoutMs, onTakeover: (_n, owner, reason) => say(`takeover ${owner?.pid ?? '?'} ${reason}`) }));
  say('ready');
  try {
    await locks.withLock(name, async () => say('acquired'));
  } catch (error) {
    const code = error instanceof OrchestratorError ? error.code : 'OTHER';
    say(`error ${code} ${(error as Error).message.replace(/\n/g, ' ')}`);
  }
} else if (mode === 'restart') {
  const [staleMs = 30_000, timeoutMs = 10_000] = numbers;
  if ((await commandFromParent('verdict')) !== 'go') process.exit(0);
  const locks = new LockManager(locksDir, defaultLockOptions({ staleMs, refreshMs: 5_000, timeoutMs, onTakeover: (_n, owner, reason) => say(`takeover ${owner?.pid ?? '?'} ${reason}`) }));
  try {
    await locks.withLock(name, async () => say('acquired'));
  } catch (error) {
    say(`error ${error instanceof OrchestratorError ? error.code : 'OTHER'} ${(error as Error).message.replace(/\n/g, ' ')}`);
  }
} else if (mode === 'race') {
  const [staleMs = 30_000, rounds = 3] = numbers;
  const logFile = rest[2];
  if (!logFile) throw new Error('race needs a log file');
  const locks = new LockManager(locksDir, defaultLockOptions({ staleMs, refreshMs: Math.max(50, staleMs / 10), timeoutMs: 60_000, onTakeover: (_n, owner, reason) => say(`takeover ${owner?.pid ?? '?'} ${reason}`) }));
  say('ready');
  await commandFromParent('go');
  for (let i = 0; i < rounds; i++) {
    await locks.withLock(name, async () => {
      await appendFile(logFile, `enter ${process.pid}\n`, { flag: 'a' });
      await sleep(15);
      await appendFile(logFile, `exit ${process.pid}\n`, { flag: 'a' });
    });
  }
  say('done');
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.exit(0);

/**
 * The durable-write floor: one replacement of a task-file-sized file the way any crash-safe store must
 * do it (temp file in the same folder, write, fsync, close, rename over the target, fsync the folder),
 * with plain node:fs/promises calls and nothing else: no locks, no journal, no JSON, no logging.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';

export async function durableReplace(target: string, data: string): Promise<void> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(temp, target);
  const dir = await fsp.open(path.dirname(target), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Times `count` durable replacements of `target` with `data`, in milliseconds each. */
export async function timeDurableReplaces(target: string, data: string, count: number): Promise<number[]> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await durableReplace(target, data);
    times.push(performance.now() - start);
  }
  return times;
}

/**
 * The durable-write floor: one replacement of a task-file-sized file the way any crash-safe store must
 * do it (temp file in the same folder, write, fsync, close, rename over the target, fsync the folder),
 * with plain node:fs calls and nothing else: no locks, no journal, no JSON, no logging.
 *
 * Two versions of the same syscall sequence. The synchronous one is the physical floor, the reference:
 * the calls themselves, back to back on the main thread. The fs/promises one adds a thread-pool round
 * trip to each of its eight calls, which on a loaded machine costs more than the calls themselves; it
 * is printed as a second reference, since it is what a naive asynchronous store would pay.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, promises as fsp, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

export const FLOOR_KINDS = ['sync', 'async'] as const;
export type FloorKind = (typeof FLOOR_KINDS)[number];

const tempNameFor = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);

export function durableReplaceSync(target: string, data: string): void {
  const temp = tempNameFor(target);
  const bytes = Buffer.from(data);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, target);
  const dir = openSync(path.dirname(target), constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export async function durableReplace(target: string, data: string): Promise<void> {
  const temp = tempNameFor(target);
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

/** Times one durable replacement of `target` with `data` of the given kind, in milliseconds. */
export async function timeDurableReplace(kind: FloorKind, target: string, data: string): Promise<number> {
  const start = performance.now();
  if (kind === 'sync') durableReplaceSync(target, data);
  else await durableReplace(target, data);
  return performance.now() - start;
}

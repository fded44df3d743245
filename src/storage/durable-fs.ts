import { closeSync, constants, fsyncSync, linkSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { randomHex } from './random-hex.js';

/** The part of a file handle that durable writes use. */
export interface DurableHandle {
  writeFile(data: string | Uint8Array): Promise<void>;
  /** fsync */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls that durable writes make, behind an interface so that tests can fail each
 * step in turn (fault injection) and check that no temp file is left and the error surfaces.
 */
export interface DurableFs {
  open(file: string, flags: string | number, mode?: number): Promise<DurableHandle>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(file: string): Promise<void>;
  /** fsync of a folder, so that a rename or create in it survives power loss. */
  syncDir(dir: string): Promise<void>;
}

/**
 * The real calls, all made synchronously on the main thread, fsyncs included. A thread-pool round trip
 * costs about 40 µs on an idle machine and several times that on a loaded one (the worker thread and
 * then the main thread must each be scheduled), which is more than any call here except an fsync; and
 * an fsync on the thread pool buys nothing here: the call that asked for it waits for it before it can
 * answer, and a server has one client, which waits for that answer. What it costs is that a second
 * call the client sent meanwhile waits too, for at most the fsyncs of one write.
 */
export const nodeFs: DurableFs = {
  open: async (file, flags, mode) => syncHandle(openSync(file, flags, mode)),
  rename: async (from, to) => renameSync(from, to),
  link: async (existing, newPath) => linkSync(existing, newPath),
  unlink: async (file) => unlinkSync(file),
  syncDir: async (dir) => {
    const handle = syncHandle(openSync(dir, constants.O_RDONLY));
    try {
      await handle.sync();
    } catch (error) {
      // Some file systems (and Windows) refuse fsync on a directory; the rename is still atomic there.
      if (!isCode(error, 'EINVAL', 'EPERM', 'EISDIR', 'EBADF')) throw error;
    } finally {
      await handle.close();
    }
  },
};

function syncHandle(fd: number): DurableHandle {
  return {
    async writeFile(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
    },
    async sync() {
      fsyncSync(fd);
    },
    async close() {
      closeSync(fd);
    },
  };
}

export const TEMP_SUFFIX = '.tmp';

/** A temp name unique across processes and calls, in the same folder as the target (rename must not cross devices). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomHex(12)}${TEMP_SUFFIX}`);
}

/** The pid encoded in a temp name made by tempPathFor, or null for a name that is not ours. */
export function tempFileOwnerPid(fileName: string): number | null {
  const match = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(fileName);
  return match ? Number(match[1]) : null;
}

async function writeTemp(fs: DurableFs, temp: string, data: string | Uint8Array, sync: boolean, mode = 0o644): Promise<void> {
  const handle = await fs.open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `target` atomically and durably: temp file in the same folder, write, fsync, close,
 * rename over the target, fsync the folder. A crash at any instant leaves the old or the new file.
 */
export async function writeFileDurable(target: string, data: string | Uint8Array, fs: DurableFs = nodeFs, mode?: number): Promise<void> {
  const temp = tempPathFor(target);
  let renamed = false;
  try {
    await writeTemp(fs, temp, data, true, mode); // a private file's temp is private from its first byte
    await renameWithRetry(fs, temp, target);
    renamed = true;
    await syncAfterCommit(fs, path.dirname(target));
  } finally {
    if (!renamed) await removeQuietly(fs, temp);
  }
}

/**
 * An error raised after the new file took the old one's place: the change is visible, but it could
 * not be flushed, so it may not survive power loss. Callers must not claim that nothing changed.
 */
export class UnflushedChangeError extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

async function syncAfterCommit(fs: DurableFs, dir: string): Promise<void> {
  try {
    await fs.syncDir(dir);
  } catch (error) {
    throw new UnflushedChangeError(error);
  }
}

/**
 * Creates `target` with its full content, failing with EEXIST if it already exists: the content is
 * written to a temp file first and hard-linked into place, so no reader ever sees a half-written file.
 * `durable` adds the fsyncs (task files); locks skip them, since a lock need not survive power loss.
 */
export async function createFileExclusive(target: string, data: string | Uint8Array, options: { durable: boolean }, fs: DurableFs = nodeFs): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await writeTemp(fs, temp, data, options.durable);
    await fs.link(temp, target);
  } finally {
    await removeQuietly(fs, temp);
  }
  if (options.durable) await syncAfterCommit(fs, path.dirname(target));
}

/** Moves a file to another folder of the same file system durably (both folders are synced). */
export async function moveFileDurable(from: string, to: string, fs: DurableFs = nodeFs): Promise<void> {
  await renameWithRetry(fs, from, to);
  await syncAfterCommit(fs, path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) await syncAfterCommit(fs, path.dirname(from));
}

/**
 * Moves a file to another folder without ever replacing a file already there: hard link, then unlink
 * the source, then sync both folders. EEXIST when the target exists and is another file. A target that
 * is the same file (a crash between the link and the unlink) just loses its second name.
 */
export async function moveFileNoReplace(from: string, to: string, fs: DurableFs = nodeFs): Promise<void> {
  try {
    await fs.link(from, to);
  } catch (error) {
    if (!isCode(error, 'EEXIST') || !sameFile(from, to)) throw error;
  }
  await fs.unlink(from);
  await syncAfterCommit(fs, path.dirname(to));
  await syncAfterCommit(fs, path.dirname(from));
}

function sameFile(a: string, b: string): boolean {
  const [x, y] = [statSync(a, { throwIfNoEntry: false }), statSync(b, { throwIfNoEntry: false })];
  return x !== undefined && y !== undefined && x.ino === y.ino && x.dev === y.dev;
}

/** Windows refuses a rename while another process has the file open (EPERM/EBUSY/EACCES): retry briefly. */
async function renameWithRetry(fs: DurableFs, from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rename(from, to);
      return;
    } catch (error) {
      if (process.platform !== 'win32' || attempt >= 10 || !isCode(error, 'EPERM', 'EBUSY', 'EACCES')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** Math.min(attempt, 5)));
    }
  }
}

async function removeQuietly(fs: DurableFs, file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch {
    // already gone, or never created
  }
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

import { closeSync, constants, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readlinkSync, readSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { lstat, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { tempWriterOf, tempWriterTag } from './owner.js';
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
 * The real calls. Only the fsyncs, which wait for the disk, go through the thread pool; the others take
 * microseconds on a local disk and are made synchronously, as a thread-pool round trip costs more
 * (about 40 µs here) than the call itself.
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
    // On the main thread: a thread-pool round trip (40 µs idle, several times that under load) buys
    // nothing here, as the call that asked for the fsync waits for it before it can answer.
    async sync() {
      fsyncSync(fd);
    },
    async close() {
      closeSync(fd);
    },
  };
}

export const TEMP_SUFFIX = '.tmp';

/**
 * A temp name unique across processes and calls, in the same folder as the target (rename must not cross
 * devices). It names its writer (pid, where that pid means something, instance: see owner.ts), so that the
 * sweep of left-over temp files never removes the file of a writer that still runs, in any namespace.
 */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tempWriterTag()}.${randomHex(12)}${TEMP_SUFFIX}`);
}

/** The pid encoded in a temp name made by tempPathFor, or null for a name that is not ours. */
export function tempFileOwnerPid(fileName: string): number | null {
  return tempWriterOf(fileName)?.pid ?? null;
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
export async function writeFileDurable(target: string, data: string | Uint8Array, fs: DurableFs = nodeFs, mode?: number, beforeCommit?: () => void): Promise<void> {
  const temp = tempPathFor(target);
  let renamed = false;
  try {
    await writeTemp(fs, temp, data, true, mode); // a private file's temp is private from its first byte
    beforeCommit?.(); // a fence (the lock still ours, the file still the one read): throws to abandon, and the temp file goes
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
export async function createFileExclusive(target: string, data: string | Uint8Array, options: { durable: boolean; mode?: number }, fs: DurableFs = nodeFs): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await writeTemp(fs, temp, data, options.durable, options.mode); // a secret's temp is private from its first byte
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

/** O_NOFOLLOW where the platform has it (not on Windows, where lstat is checked before opening). */
export const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * A symbolic link where the server appends to one of its own files (the log, the journal). A cloned
 * repository can carry such a link pointing anywhere; writing through it would write outside the project.
 */
export class LinkRefusedError extends Error {
  readonly code = 'ELOOP';
  constructor(
    readonly file: string,
    readonly target: string,
  ) {
    super(`${file} is a symbolic link (to ${target}), and task-orchestrator never writes through a link`);
  }
}

/**
 * Opens `file` for appending (created if missing) without following a symbolic link in its place:
 * a link fails with LinkRefusedError and nothing is written anywhere. Returns the file descriptor.
 */
export function openAppendNoFollow(file: string, mode = 0o644): number {
  if (!NO_FOLLOW) refuseLink(file);
  let fd: number;
  try {
    // O_NONBLOCK: a named pipe in the file's place must not block the open (and the server with it).
    fd = openSync(file, constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | NO_FOLLOW | (constants.O_NONBLOCK ?? 0), mode);
  } catch (error) {
    // Linux and macOS answer ELOOP, FreeBSD EMLINK; either may have another cause, so look.
    if (isCode(error, 'ELOOP', 'EMLINK')) refuseLink(file);
    // ENXIO: a named pipe nobody reads.
    const info = isCode(error, 'ENXIO') ? lstatSync(file, { throwIfNoEntry: false }) : undefined;
    throw info && !info.isFile() ? new NotRegularFileError(file, describeFileType(info)) : error;
  }
  const info = fstatSync(fd);
  if (info.isFile()) return fd;
  closeSync(fd);
  throw new NotRegularFileError(file, describeFileType(info));
}

/** Throws LinkRefusedError when `file` is a symbolic link. */
export function refuseLink(file: string): void {
  if (!lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) return;
  let target = '?';
  try {
    target = readlinkSync(file);
  } catch {
    // gone meanwhile: still refused, the target is just unknown
  }
  throw new LinkRefusedError(file, target);
}

/**
 * Reading files that a person or another program may have put in the project folder. A symbolic link is
 * never followed (O_NOFOLLOW: it could lead out of the project, to a private key, say), and opening never
 * waits (O_NONBLOCK: a named pipe would block the synchronous open, and with it every tool, until some
 * process wrote to it). The open is followed by fstat, so what is read is the file that was checked: an
 * lstat before the open would be a second system call, and leave a moment in which the entry could be
 * swapped. Neither flag exists on Windows, which has no named pipes in folders; links are followed there.
 */
export const READ_FLAGS = constants.O_RDONLY | NO_FOLLOW | (constants.O_NONBLOCK ?? 0);

/** A directory entry that is not a regular file (link, named pipe, folder, socket, device): reported, never read. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREGULAR';
  constructor(
    readonly file: string,
    /** What the entry is, for messages: "a symbolic link", "a named pipe (FIFO)", ... */
    readonly what: string,
  ) {
    super(`${file} is ${what}, not a regular file, so it is never opened`);
  }
}

export function describeFileType(info: Stats): string {
  if (info.isSymbolicLink()) return 'a symbolic link';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isDirectory()) return 'a folder';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Opens `file` for reading if it is a regular file; throws NotRegularFileError for anything else,
 * and the system's error (ENOENT, EMFILE, ...) when it cannot be opened. The caller closes the fd.
 */
export function openRegularFileSync(file: string): { fd: number; info: Stats } {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch (error) {
    throw isRefusal(error) ? refusalOf(file, error, lstatSync(file, { throwIfNoEntry: false })) : error;
  }
  const info = fstatSync(fd);
  if (info.isFile()) return { fd, info };
  closeSync(fd);
  throw new NotRegularFileError(file, describeFileType(info));
}

/** The whole of a regular file, read with one open, fstat and read (see openRegularFileSync). */
export function readRegularFileSync(file: string): Buffer {
  return readRegularFileWithStatSync(file).data;
}

/** readRegularFileSync with the fstat of the file read: what a later write checks is still in place. */
export function readRegularFileWithStatSync(file: string): { data: Buffer; info: Stats } {
  const { fd, info } = openRegularFileSync(file);
  try {
    return { data: readOpenFile(fd, info.size), info };
  } finally {
    closeSync(fd);
  }
}

/** readRegularFileSync through the thread pool, for callers that must not block (doctor). */
export async function readRegularFile(file: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, READ_FLAGS);
  } catch (error) {
    throw isRefusal(error) ? refusalOf(file, error, await lstat(file).catch(() => undefined)) : error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new NotRegularFileError(file, describeFileType(info));
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Reads up to `size` bytes from the start of an open file (less if it shrank meanwhile). */
export function readOpenFile(fd: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const n = readSync(fd, buffer, filled, size - filled, filled);
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/** O_NOFOLLOW makes opening a link fail with ELOOP (EMLINK on FreeBSD); a socket cannot be opened at all (ENXIO). */
function isRefusal(error: unknown): boolean {
  return isCode(error, 'ELOOP', 'EMLINK', 'ENXIO');
}

/** A refused open as NotRegularFileError, after a look at what the entry is (the error itself when it is a file after all). */
function refusalOf(file: string, error: unknown, info: Stats | undefined): unknown {
  return info && !info.isFile() ? new NotRegularFileError(file, describeFileType(info)) : error;
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/** Whether `dir` exists and is a folder (a link to one counts). */
export async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => null))?.isDirectory() === true;
}

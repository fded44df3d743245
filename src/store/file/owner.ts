import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Who a process is, in the terms needed to tell whether it still runs. A pid means something only inside
 * one PID namespace of one boot of one host: two containers (or a container and its host) sharing a
 * folder have the same host name and the same boot, but their pids name different processes.
 */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /** Random per process: a pid can come back (pid 1 of a restarted container, say), this cannot. */
  instance: string;
  /** The PID namespace (the inode of /proc/self/ns/pid), null where there is none to read (macOS, Windows). */
  pidns: string | null;
  /** /proc/sys/kernel/random/boot_id, null where there is none. */
  boot: string | null;
}

/**
 * An owner as recorded in a lock file or on an active subtask. Records written before namespaces were
 * recorded lack pidns and boot (undefined, not null): they are judged as they were then, by host and pid.
 */
export interface OwnerRecord {
  pid: number;
  host: string;
  instance?: string;
  pidns?: string | null;
  boot?: string | null;
}

/** 'unknown': the pid cannot be checked from here (another host, boot or namespace); the heartbeat decides. */
export type Liveness = 'alive' | 'dead' | 'unknown';

export const INSTANCE = randomBytes(8).toString('hex');

let self: ProcessIdentity | null = null;

/** This process, read once (the namespace and boot of a process never change). */
export function selfIdentity(): ProcessIdentity {
  self ??= { pid: process.pid, host: os.hostname(), instance: INSTANCE, pidns: pidNamespace(), boot: bootId() };
  return self;
}

function pidNamespace(): string | null {
  try {
    return /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? null;
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * The one liveness rule, for locks, temp files and active subtasks. A pid is asked about only when it
 * lives where we do (same host, boot and PID namespace); our own pid with another instance is a previous
 * process that had our pid (a restarted container's pid 1), so it is dead.
 */
export function judgeOwner(owner: OwnerRecord, me: ProcessIdentity = selfIdentity(), pidAlive: (pid: number) => boolean = isPidAlive): Liveness {
  if (owner.host !== me.host) return 'unknown';
  const recordsSpace = owner.pidns !== undefined || owner.boot !== undefined;
  if (recordsSpace && (owner.pidns !== me.pidns || owner.boot !== me.boot)) return 'unknown';
  return judgePid(owner.pid, owner.instance, me, pidAlive);
}

function judgePid(pid: number, instance: string | undefined, me: ProcessIdentity, pidAlive: (pid: number) => boolean): Liveness {
  if (pid === me.pid) return instance === undefined || instance === me.instance ? 'alive' : 'dead';
  return pidAlive(pid) ? 'alive' : 'dead';
}

/**
 * Where this process's pids mean something, as 8 hex digits for temp file names (which must stay short):
 * a hash of host, boot and PID namespace.
 */
export function spaceTag(me: ProcessIdentity = selfIdentity()): string {
  return createHash('sha256').update(`${me.host}\0${me.boot ?? ''}\0${me.pidns ?? ''}`).digest('hex').slice(0, 8);
}

/** The writer of a temp file, from its name: space and instance are null in names made before they were recorded. */
export interface TempWriter {
  pid: number;
  space: string | null;
  instance: string | null;
}

/** The same rule for the writer of a temp file; a legacy name (pid only) is judged by host-local pid as before. */
export function judgeTempWriter(writer: TempWriter, me: ProcessIdentity = selfIdentity(), pidAlive: (pid: number) => boolean = isPidAlive): Liveness {
  if (writer.space !== null && writer.space !== spaceTag(me)) return 'unknown';
  if (writer.pid === me.pid) return writer.instance === null || writer.instance === me.instance.slice(0, 8) ? 'alive' : 'dead';
  return pidAlive(writer.pid) ? 'alive' : 'dead';
}

/** The instance as it goes into temp file names (the first 8 hex digits suffice to tell two processes apart). */
export const INSTANCE_TAG = INSTANCE.slice(0, 8);

/** What temp file names carry about their writer: "<pid>-<space>-<instance>". */
export function tempWriterTag(): string {
  // The same for the whole life of the process; a hash per temp file cost about 30 µs a write.
  ownWriterTag ??= `${process.pid}-${spaceTag()}-${INSTANCE_TAG}`;
  return ownWriterTag;
}

let ownWriterTag: string | undefined;

/** The writer named by a temp file name (".<target>.<writer>.<12 hex>.tmp"), or null for a name that is not a temp file's. */
export function tempWriterOf(fileName: string): TempWriter | null {
  const match = /^\..+\.(\d+)(?:-([0-9a-f]{8})-([0-9a-f]{8}))?\.[0-9a-f]{12}\.tmp$/.exec(fileName);
  return match ? { pid: Number(match[1]), space: match[2] ?? null, instance: match[3] ?? null } : null;
}

/**
 * "Now" on the file system's clock, in ms: the modification time the kernel (or file server) gives a
 * file created in `dir` this instant. Comparing it with another file's mtime uses one clock; comparing
 * Date.now() with a time another process wrote would mix two (a container, a VM or faketime can differ
 * by hours). The probe is removed at once; a crash in between leaves a temp name the sweep removes.
 */
export function fileSystemNow(dir: string): number {
  const probe = path.join(dir, `..clock.${tempWriterTag()}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(probe, 'wx');
  try {
    return fstatSync(fd).mtimeMs;
  } finally {
    closeSync(fd);
    try {
      unlinkSync(probe);
    } catch {
      // already gone (a sweep by another process): nothing to clean
    }
  }
}

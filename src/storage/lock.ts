import { closeSync, fstatSync, ftruncateSync, linkSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OrchestratorError } from '../domain/errors.js';
import { isCode, tempPathFor } from './durable-fs.js';
import { randomHex } from './random-hex.js';

/** What a lock file holds: who owns it, so others can tell a live holder from a dead one. */
export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  acquired_at: string;
}

export interface LockOptions {
  /** Give up waiting after this long, with LOCK_TIMEOUT. */
  timeoutMs: number;
  /** A lock whose heartbeat lapsed this long is stale (the spec's 1 hour is the upper bound). */
  staleMs: number;
  /** How often a holder refreshes its lock's mtime. */
  refreshMs: number;
  host: string;
  pid: number;
  isPidAlive: (pid: number) => boolean;
  onTakeover?: (name: string, owner: LockOwner | null, reason: string) => void;
}

export const MAX_STALE_MS = 60 * 60 * 1000;
const MARKER_STALE_MS = 5_000;

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM'); // exists, owned by someone else
  }
}

export function defaultLockOptions(overrides: Partial<LockOptions> = {}): LockOptions {
  return { timeoutMs: 10_000, staleMs: 30_000, refreshMs: 5_000, host: os.hostname(), pid: process.pid, isPidAlive, ...overrides };
}

export interface ObservedLock {
  owner: LockOwner | null;
  /** Identity of the file we looked at, for locks whose content could not be read. */
  ino: number;
  mtimeMs: number;
}

/**
 * Cross-process locks as files in locks/: created atomically (hard link of a complete temp file), owned
 * (pid, host, token), refreshed while held, and taken over when the owner is gone or its heartbeat lapsed.
 * Takeover is serialised by a "<name>.lock.breaking" marker created exclusively, so exactly one process
 * removes a given stale lock and a live holder's lock is never removed (proper-lockfile issue #121).
 *
 * The lock file calls are synchronous: each takes microseconds on a local disk, where an asynchronous
 * call costs a thread-pool round trip of about 40 µs, and a tool call makes a dozen of them.
 *
 * A lock file is a second name for a spare file of the process that holds it (see createLock): taking
 * a lock then creates no inode, and releasing it frees none. On ext4 that allocation was the dearest
 * part of a write after its two fsyncs: 0.1 to 1 ms a call, the more the busier the disk (measured
 * against a temp file linked as the lock, in the bench's conditions). A process keeps its spares
 * (".spare-lock.<pid>.<hex>") until it closes its lock manager or exits; the spares of processes that
 * are gone are swept by the next recovery.
 */
export class LockManager {
  /** In-process queue per lock name: calls in one process wait here, not on the file system. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Spare files ready to become a lock file, and those that are one now (by lock name). */
  private readonly spares: Spare[] = [];
  private readonly sparesInUse = new Map<string, Spare>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly options: LockOptions,
  ) {
  }

  lockPath(name: string): string {
    return path.join(this.dir, `${name}.lock`);
  }

  /** Runs `work` while holding the lock `name`, across calls in this process and across processes. */
  withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const run = previous.then(
      () => this.holding(name, work),
      () => this.holding(name, work),
    );
    const settled = run.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return run;
  }

  private async holding<T>(name: string, work: () => Promise<T>): Promise<T> {
    const token = await this.acquire(name);
    const heartbeat = setInterval(() => void this.refresh(name), this.options.refreshMs);
    heartbeat.unref();
    try {
      return await work();
    } finally {
      clearInterval(heartbeat);
      await this.release(name, token);
    }
  }

  async acquire(name: string): Promise<string> {
    const file = this.lockPath(name);
    const owner: LockOwner = { pid: this.options.pid, host: this.options.host, token: randomHex(16), acquired_at: new Date().toISOString() };
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        this.createLock(name, file, JSON.stringify(owner));
        return owner.token;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
      }
      const observed = await this.observe(file);
      if (!observed) continue; // released between our create and our look: try again at once
      const staleness = this.staleness(observed);
      if (staleness && (await this.breakStale(name, observed, staleness))) continue;
      if (Date.now() >= deadline) throw lockTimeout(name, file, observed.owner, this.options.timeoutMs);
      await sleep(Math.min(2 ** Math.min(attempt, 5), 25) * (0.5 + Math.random()));
    }
  }

  /** Reads a lock file; null when it does not exist (anymore). */
  async observe(file: string): Promise<ObservedLock | null> {
    try {
      const fd = openSync(file, 'r');
      try {
        const info = fstatSync(fd);
        return { owner: parseOwner(readFileSync(fd, 'utf8')), ino: info.ino, mtimeMs: info.mtimeMs };
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if (isCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  /** Why a lock may be taken over, or null while its holder may still be working. */
  staleness(observed: ObservedLock): string | null {
    const { owner } = observed;
    const local = owner !== null && owner.host === this.options.host;
    if (local && this.isOwnerGone(owner)) return `its owner (pid ${owner.pid}) is gone`;
    const lapsed = Date.now() - observed.mtimeMs;
    // An owner on this host whose process runs is never cut short (it may be paused, say with Ctrl-Z,
    // and would then write over its successor); only the spec's outer bound applies, for reused pids.
    const bound = local ? MAX_STALE_MS : Math.min(this.options.staleMs, MAX_STALE_MS);
    if (lapsed > bound) return `not refreshed for ${Math.round(lapsed / 1000)} s (bound ${Math.round(bound / 1000)} s)`;
    return null;
  }

  /** Whether the process that made a lock or marker on this host has ended. */
  isOwnerGone(owner: LockOwner): boolean {
    return owner.host === this.options.host && !this.options.isPidAlive(owner.pid);
  }

  /** Removes a stale lock; false when another process is taking it over right now (then wait and look again). */
  private async breakStale(name: string, observed: ObservedLock, reason: string): Promise<boolean> {
    const file = this.lockPath(name);
    const marker = `${file}.breaking`;
    const me: LockOwner = { pid: this.options.pid, host: this.options.host, token: randomHex(16), acquired_at: new Date().toISOString() };
    try {
      createLockFile(marker, JSON.stringify(me));
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
      await this.clearDeadMarker(marker);
      return false;
    }
    try {
      const current = await this.observe(file);
      if (current && sameLock(current, observed)) {
        unlinkSync(file);
        this.options.onTakeover?.(name, observed.owner, reason);
        // Its owner is gone: so is the use of its spare lock files.
        if (observed.owner && this.isOwnerGone(observed.owner)) this.sweepSpares();
      }
      return true;
    } finally {
      unlinkQuietly(marker);
    }
  }

  /**
   * A takeover marker whose maker died mid-takeover would block takeovers forever: remove it once its
   * maker is gone or it is older than any takeover takes (they last microseconds).
   */
  private async clearDeadMarker(marker: string): Promise<void> {
    const observed = await this.observe(marker);
    if (!observed) return;
    if (this.isMarkerDead(observed)) unlinkQuietly(marker);
  }

  /** A takeover marker is dead when its maker is gone or it is older than any takeover takes (microseconds). */
  isMarkerDead(observed: ObservedLock): boolean {
    return (observed.owner !== null && this.isOwnerGone(observed.owner)) || Date.now() - observed.mtimeMs > MARKER_STALE_MS;
  }

  private async refresh(name: string): Promise<void> {
    const now = new Date();
    try {
      utimesSync(this.lockPath(name), now, now);
    } catch {
      // released meanwhile
    }
  }

  private async release(name: string, token: string): Promise<void> {
    const file = this.lockPath(name);
    let current: ObservedLock | null;
    try {
      current = await this.observe(file);
    } catch {
      // Unreadable: the lock may still be a name of our spare, which must then not be written again.
      this.dropSpare(this.sparesInUse.get(name));
      this.sparesInUse.delete(name);
      return;
    }
    if (current?.owner?.token === token) unlinkQuietly(file);
    // Released, or taken over and replaced: either way no lock file is a name of the spare any more.
    this.recycleSpare(name);
  }

  /**
   * Creates the lock file `file` with `content`, or fails with EEXIST: the content is written into a
   * spare file of this process, which is then hard-linked as the lock. Nobody ever reads a lock
   * without its owner, and no inode is created. A spare is written only while no lock file is a name
   * of it, so what a lock file holds never changes while it is held.
   */
  private createLock(name: string, file: string, content: string): void {
    for (let attempt = 0; ; attempt++) {
      const spare = this.spares.pop() ?? this.newSpare();
      try {
        writeSpare(spare, content);
        linkSync(spare.file, file);
      } catch (error) {
        if (isCode(error, 'EEXIST')) this.spares.push(spare);
        else this.dropSpare(spare);
        // The spare's own name was removed (by hand, or by a sweep on another machine): make another.
        if (isCode(error, 'ENOENT') && attempt === 0 && statSync(this.dir, { throwIfNoEntry: false })) continue;
        throw error;
      }
      this.sparesInUse.set(name, spare);
      return;
    }
  }

  private newSpare(): Spare {
    const file = path.join(this.dir, `${SPARE_PREFIX}${process.pid}.${randomHex(12)}`);
    const fd = openSync(file, 'wx', 0o644);
    const spare = { file, fd, bytes: 0 };
    liveSpares.add(spare);
    return spare;
  }

  private recycleSpare(name: string): void {
    const spare = this.sparesInUse.get(name);
    if (!spare) return;
    this.sparesInUse.delete(name);
    if (this.closed || this.spares.length >= MAX_FREE_SPARES) this.dropSpare(spare);
    else this.spares.push(spare);
  }

  private dropSpare(spare: Spare | undefined): void {
    if (!spare) return;
    liveSpares.delete(spare);
    removeSpare(spare);
  }

  /** Removes this manager's spare files; a lock held now keeps its spare until it is released. */
  close(): void {
    this.closed = true;
    for (const spare of this.spares.splice(0)) this.dropSpare(spare);
  }

  /**
   * Removes the spare files of processes that are gone, or that no process has used for longer than
   * any lock may be held (pids are reused). A spare that is someone's held lock only loses its spare name.
   */
  sweepSpares(): string[] {
    const removed: string[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return removed;
    }
    for (const name of names) {
      const pid = spareOwnerPid(name);
      if (pid === null || pid === process.pid) continue;
      const file = path.join(this.dir, name);
      const info = statSync(file, { throwIfNoEntry: false });
      if (!info || (this.options.isPidAlive(pid) && Date.now() - info.mtimeMs <= MAX_STALE_MS)) continue;
      try {
        unlinkSync(file);
        removed.push(file);
      } catch {
        // gone already
      }
    }
    return removed;
  }
}

interface Spare {
  file: string;
  fd: number;
  /** Length of what the file holds now. */
  bytes: number;
}

const SPARE_PREFIX = '.spare-lock.';
const MAX_FREE_SPARES = 4;

/** The pid in the name of a spare lock file, or null for any other name. */
export function spareOwnerPid(fileName: string): number | null {
  const match = /^\.spare-lock\.(\d+)\.[0-9a-f]{12}$/.exec(fileName);
  return match ? Number(match[1]) : null;
}

function writeSpare(spare: Spare, content: string): void {
  const bytes = Buffer.from(content);
  for (let written = 0; written < bytes.length; ) written += writeSync(spare.fd, bytes, written, bytes.length - written, written);
  if (bytes.length < spare.bytes) ftruncateSync(spare.fd, bytes.length);
  spare.bytes = bytes.length;
}

function removeSpare(spare: Spare): void {
  try {
    closeSync(spare.fd);
  } catch {
    // already closed
  }
  unlinkQuietly(spare.file);
}

/** Every spare of this process: removed when it exits, so that a stopped server leaves nothing in locks/. */
const liveSpares = new Set<Spare>();
process.on('exit', () => {
  for (const spare of liveSpares) removeSpare(spare);
});

/**
 * Creates a lock file with its whole content or fails with EEXIST: written to a temp file, then
 * hard-linked into place, so nobody ever reads a lock without its owner. Not fsynced: a lock need not
 * survive power loss (its owner does not either).
 */
function createLockFile(file: string, content: string): void {
  const temp = tempPathFor(file);
  writeFileSync(temp, content, { flag: 'wx' });
  try {
    linkSync(temp, file);
  } finally {
    unlinkQuietly(temp);
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function sameLock(a: ObservedLock, b: ObservedLock): boolean {
  if (a.owner && b.owner) return a.owner.token === b.owner.token;
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs;
}

export function parseOwner(text: string): LockOwner | null {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') return value as LockOwner;
  } catch {
    // empty or foreign lock file (a Python filelock file, say): judged by its age alone
  }
  return null;
}

function lockTimeout(name: string, file: string, owner: LockOwner | null, timeoutMs: number): OrchestratorError {
  const holder = owner ? `pid ${owner.pid} on ${owner.host}, holding it since ${owner.acquired_at}` : 'an unknown process';
  return new OrchestratorError(
    'LOCK_TIMEOUT',
    `Could not lock ${name} within ${Math.round(timeoutMs / 1000)} s: it is held by ${holder}. Try again in a moment; if that process is gone for good, run "task-orchestrator doctor --fix" or delete ${file}.`,
    { lock: file, holder: owner },
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

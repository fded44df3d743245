import { linkSync, closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readdirSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { OrchestratorError } from '../../domain/errors.js';
import { isCode, NO_FOLLOW, NotRegularFileError, openRegularFileSync, readOpenFile, tempPathFor } from './durable-fs.js';
import { fileSystemNow, isPidAlive, judgeOwner, judgeTempWriter, selfIdentity, tempWriterOf, type Liveness, type OwnerRecord, type ProcessIdentity } from './owner.js';
import { randomHex } from './random-hex.js';
import { storageError } from './storage-error.js';

export { isPidAlive } from './owner.js';

/**
 * What a lock file holds: who owns it (see owner.ts for how that is judged), and the token of this one
 * acquisition, which the holder reads back before it commits a write or refreshes the lock.
 * Locks made before namespaces were recorded lack instance, pidns and boot.
 */
export interface LockOwner extends OwnerRecord {
  token: string;
  acquired_at: string;
}

/** A lock while it is held: the fence a write checks just before it commits. */
export interface HeldLock {
  /** Throws LOCK_LOST unless the lock file still carries this acquisition's token. */
  assertStillMine(): void;
}

export interface LockOptions {
  /** Give up waiting after this long, with LOCK_TIMEOUT. */
  timeoutMs: number;
  /** A lock whose heartbeat lapsed this long is stale (the spec's 1 hour is the upper bound). */
  staleMs: number;
  /** How often a holder refreshes its lock's mtime. */
  refreshMs: number;
  identity: ProcessIdentity;
  isPidAlive: (pid: number) => boolean;
  onTakeover?: (name: string, owner: LockOwner | null, reason: string) => void;
}

export const MAX_STALE_MS = 60 * 60 * 1000;
const MARKER_STALE_MS = 5_000;
/** Immediate retries of the lock loop in a row before it sleeps (and checks its deadline) again. */
const MAX_QUICK_RETRIES = 3;

export function defaultLockOptions(overrides: Partial<LockOptions> = {}): LockOptions {
  return { timeoutMs: 10_000, staleMs: 30_000, refreshMs: 5_000, identity: selfIdentity(), isPidAlive, ...overrides };
}

/**
 * The lock manager of a project's locks/ folder as servers and commands use it: the configured wait and
 * staleness, a refresh every stale/4 (between 50 ms and 5 s), and takeovers logged.
 */
export function projectLockManager(locksDir: string, settings: { lockTimeoutMs: number; lockStaleMs: number }, logger: { warn(message: string, data?: Record<string, unknown>): void }): LockManager {
  return new LockManager(
    locksDir,
    defaultLockOptions({
      timeoutMs: settings.lockTimeoutMs,
      staleMs: settings.lockStaleMs,
      refreshMs: Math.max(50, Math.min(5_000, settings.lockStaleMs / 4)),
      onTakeover: (name, owner, reason) => logger.warn(`Took over the lock of ${name}: ${reason}`, { lock: name, previous_owner: owner }),
    }),
  );
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
 */
export class LockManager {
  /** In-process queue per lock name: calls in one process wait here, not on the file system. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Spare files ready to become a lock file, and those that are one now (by lock name): see createLock. */
  private readonly spares: Spare[] = [];
  private readonly sparesInUse = new Map<string, Spare>();

  constructor(
    private readonly dir: string,
    private readonly options: LockOptions,
  ) {
  }

  lockPath(name: string): string {
    return path.join(this.dir, `${name}.lock`);
  }

  /** Runs `work` while holding the lock `name`, across calls in this process and across processes. */
  withLock<T>(name: string, work: (held: HeldLock) => Promise<T>): Promise<T> {
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

  private async holding<T>(name: string, work: (held: HeldLock) => Promise<T>): Promise<T> {
    const token = await this.acquire(name);
    const heartbeat = setInterval(() => {
      if (!this.refresh(name, token)) clearInterval(heartbeat); // taken over: never touch the new owner's lock
    }, this.options.refreshMs);
    heartbeat.unref();
    try {
      return await work({ assertStillMine: () => this.assertStillMine(name, token) });
    } finally {
      clearInterval(heartbeat);
      await this.release(name, token);
    }
  }

  async acquire(name: string): Promise<string> {
    const file = this.lockPath(name);
    const owner = this.newOwner();
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 0, quick = 0; ; attempt++) {
      if (this.tryCreate(name, file, owner)) return owner.token;
      const observed = await this.observeForLocking(name, file);
      const staleness = observed ? this.staleness(observed) : null;
      // Released between our create and our look, or a stale lock just removed: try again at once, but only a
      // few times in a row. Then the deadline and a sleep apply: an entry that keeps vanishing (or coming back
      // stale) must not spin the single-threaded server at full speed.
      const retryNow = !observed || (staleness !== null && (await this.breakStale(name, observed, staleness)));
      if (retryNow && quick++ < MAX_QUICK_RETRIES) continue;
      if (Date.now() >= deadline) throw lockTimeout(name, file, observed?.owner ?? null, this.options.timeoutMs);
      quick = 0;
      await sleep(Math.min(2 ** Math.min(attempt, 5), 25) * (0.5 + Math.random()));
    }
  }

  /** Creates the lock file; false when it exists. Other failures (ENOSPC, EROFS, EMFILE) are STORAGE_ERROR. */
  private tryCreate(name: string, file: string, owner: LockOwner): boolean {
    try {
      this.createLock(name, file, JSON.stringify(owner));
      return true;
    } catch (error) {
      if (isCode(error, 'EEXIST')) return false;
      throw storageError(error, `create the lock file ${file}`);
    }
  }

  /**
   * observe() for acquire: something other than a lock file at the lock's name (a link, a named pipe, a
   * folder) is never ours to remove or to wait for, so the change is refused at once, naming it.
   */
  private async observeForLocking(name: string, file: string): Promise<ObservedLock | null> {
    try {
      return await this.observe(file);
    } catch (error) {
      throw lockFileError(name, file, error);
    }
  }

  /**
   * Reads a lock file; null when it does not exist (anymore). A link or named pipe is never followed or
   * opened (NotRegularFileError): a dangling link would otherwise look like a lock released a moment ago.
   */
  async observe(file: string): Promise<ObservedLock | null> {
    try {
      const { fd, info } = openRegularFileSync(file);
      try {
        return { owner: parseOwner(readOpenFile(fd, info.size).toString('utf8')), ino: info.ino, mtimeMs: info.mtimeMs };
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if (isCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  /** This process as the owner of a new lock (or takeover marker). */
  private newOwner(): LockOwner {
    const { pid, host, instance, pidns, boot } = this.options.identity;
    return { pid, host, instance, pidns, boot, token: randomHex(16), acquired_at: new Date().toISOString() };
  }

  /**
   * Why a lock may be taken over, or null while its holder may still be working. `now` is on the file
   * system's clock (fileSystemNow), the clock that also set the lock's mtime: never this process's clock.
   */
  staleness(observed: ObservedLock, now?: number): string | null {
    const { owner } = observed;
    const liveness = this.livenessOf(owner);
    if (owner && liveness === 'dead') return `its owner (pid ${owner.pid}) is gone`;
    const lapsed = (now ?? this.fileSystemNow()) - observed.mtimeMs;
    // An owner whose process we can see running is never cut short (it may be paused, say with Ctrl-Z,
    // and would then find its lock lost); only the spec's outer bound applies, for reused pids. An owner
    // we cannot see (another host, boot or PID namespace) is judged by its heartbeat alone.
    const bound = liveness === 'alive' ? MAX_STALE_MS : Math.min(this.options.staleMs, MAX_STALE_MS);
    if (lapsed > bound) return `not refreshed for ${Math.round(lapsed / 1000)} s (bound ${Math.round(bound / 1000)} s)`;
    return null;
  }

  private livenessOf(owner: LockOwner | null): Liveness {
    return owner ? judgeOwner(owner, this.options.identity, this.options.isPidAlive) : 'unknown';
  }

  /** Whether the process that made a lock or marker is known to have ended. */
  isOwnerGone(owner: LockOwner): boolean {
    return this.livenessOf(owner) === 'dead';
  }

  /** Now on the clock of the file system that holds the locks (see owner.ts). */
  fileSystemNow(): number {
    try {
      return fileSystemNow(this.dir);
    } catch (error) {
      throw storageError(error, `read the file system's clock in ${this.dir}`);
    }
  }

  /** Removes a stale lock; false when another process is taking it over right now (then wait and look again). */
  private async breakStale(name: string, observed: ObservedLock, reason: string): Promise<boolean> {
    const marker = `${this.lockPath(name)}.breaking`;
    try {
      return await this.breakStaleWithMarker(name, marker, observed, reason);
    } catch (error) {
      throw lockFileError(name, marker, error);
    }
  }

  private async breakStaleWithMarker(name: string, marker: string, observed: ObservedLock, reason: string): Promise<boolean> {
    const file = this.lockPath(name);
    try {
      createLockFile(marker, JSON.stringify(this.newOwner()));
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
        if (observed.owner && this.isOwnerGone(observed.owner)) this.sweepSpares(); // its spares went with it
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
  isMarkerDead(observed: ObservedLock, now: number = this.fileSystemNow()): boolean {
    return (observed.owner !== null && this.isOwnerGone(observed.owner)) || now - observed.mtimeMs > MARKER_STALE_MS;
  }

  /**
   * The heartbeat: if the lock file still carries our token, rewrites its first byte (the same byte), so
   * that the kernel sets its mtime on the file system's clock (utimes would write this process's clock,
   * which may be hours off). Checked and written through one descriptor: a lock that is no longer ours
   * is never refreshed, and a file put in its place after the check is not the one touched.
   * False when the lock is no longer ours (taken over, or gone).
   */
  refresh(name: string, token: string): boolean {
    let fd: number;
    try {
      fd = openSync(this.lockPath(name), constants.O_RDWR | NO_FOLLOW | (constants.O_NONBLOCK ?? 0));
    } catch {
      return false; // gone (or something that is not a lock file in its place)
    }
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) return false;
      const content = readOpenFile(fd, info.size);
      if (parseOwner(content.toString('utf8'))?.token !== token) return false;
      writeSync(fd, content, 0, 1, 0);
      return true;
    } catch {
      return false;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The fence, just before a write commits: one stat, when the lock file is still the spare this process
   * linked (its descriptor is open, so no other file can have its inode); else one small read, whose
   * owner the refusal names.
   */
  private assertStillMine(name: string, token: string): void {
    const file = this.lockPath(name);
    if (this.isOurSpare(name, file)) return;
    let owner: LockOwner | null = null;
    try {
      const { fd, info } = openRegularFileSync(file);
      try {
        owner = parseOwner(readOpenFile(fd, info.size).toString('utf8'));
      } finally {
        closeSync(fd);
      }
    } catch {
      // gone, or replaced by something that is not a lock file: not ours either way
    }
    if (owner?.token !== token) throw lockLost(name, file, owner);
  }

  /** Whether the lock file `file` is, right now, the spare this process linked for `name`. */
  private isOurSpare(name: string, file: string): boolean {
    const spare = this.sparesInUse.get(name);
    if (!spare) return false;
    const info = lstatSync(file, { throwIfNoEntry: false });
    return info !== undefined && info.ino === spare.ino && info.dev === spare.dev;
  }

  private async release(name: string, token: string): Promise<void> {
    const file = this.lockPath(name);
    if (this.isOurSpare(name, file)) {
      unlinkQuietly(file);
      this.recycleSpare(name);
      return;
    }
    let current: ObservedLock | null;
    try {
      current = await this.observe(file);
    } catch {
      // Unreadable: the lock may still be a name of our spare, which must then never be written again.
      this.dropSpare(this.sparesInUse.get(name));
      this.sparesInUse.delete(name);
      return;
    }
    if (current?.owner?.token === token) unlinkQuietly(file);
    this.recycleSpare(name);
  }

  /** After release: released, or taken over and replaced, no lock file is a name of the spare any more. */
  private recycleSpare(name: string): void {
    const spare = this.sparesInUse.get(name);
    this.sparesInUse.delete(name);
    if (spare && this.spares.length < MAX_FREE_SPARES && !this.closed) this.spares.push(spare);
    else this.dropSpare(spare);
  }

  /**
   * Creates the lock file `file` with `content`, or fails with EEXIST. The content is written into a
   * spare file of this process, which is then hard-linked as the lock: nobody ever reads a lock without
   * its owner, and taking a lock allocates no inode (on ext4 that allocation cost 0.1 to 1 ms a write,
   * more than the rest of the lock). A spare is written only while no lock file is a name of it, so what a
   * lock file holds never changes while it is held, and its open descriptor keeps its inode from being
   * reused. Spares are named like temp files of this process: removed when it closes its store or exits,
   * and by the sweep of temp files once it is gone.
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
        // The spare's own name was removed (an hour-old spare swept by another process): make another.
        if (isCode(error, 'ENOENT') && attempt === 0 && statSync(this.dir, { throwIfNoEntry: false })) continue;
        throw error;
      }
      this.sparesInUse.set(name, spare);
      return;
    }
  }

  private newSpare(): Spare {
    const file = tempPathFor(path.join(this.dir, SPARE_NAME));
    const fd = openSync(file, 'wx', 0o644);
    const { ino, dev } = fstatSync(fd);
    const spare = { file, fd, ino, dev, bytes: 0 };
    liveSpares.add(spare);
    return spare;
  }

  private dropSpare(spare: Spare | undefined): void {
    if (!spare) return;
    liveSpares.delete(spare);
    removeSpare(spare);
  }

  private closed = false;

  /** Removes this manager's spare files; a lock held now keeps its spare until it is released. */
  close(): void {
    this.closed = true;
    for (const spare of this.spares.splice(0)) this.dropSpare(spare);
  }

  /** Removes spare lock files of processes that are gone (the temp-file liveness rule). */
  sweepSpares(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(`.${SPARE_NAME}.`)) continue;
      const writer = tempWriterOf(name);
      if (writer && judgeTempWriter(writer, this.options.identity, this.options.isPidAlive) === 'dead') unlinkQuietly(path.join(this.dir, name));
    }
  }
}

interface Spare {
  file: string;
  fd: number;
  /** Identity of the spare's inode: a lock file with it is this process's lock. */
  ino: number;
  dev: number;
  /** Length of what the file holds now. */
  bytes: number;
}

/** Spare lock files are temp files of their process: ".spare.lock.<writer>.<hex>.tmp". */
const SPARE_NAME = 'spare.lock';

/** Whether a file name in locks/ is a spare lock file (a running process's: part of its locks, not a leftover). */
export function isSpareLockFile(fileName: string): boolean {
  return fileName.startsWith(`.${SPARE_NAME}.`) && tempWriterOf(fileName) !== null;
}
const MAX_FREE_SPARES = 4;

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

/** Every spare of this process, removed when it exits: a stopped server leaves nothing in locks/. */
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
  try {
    writeFileSync(temp, content, { flag: 'wx' }); // a write that fails (ENOSPC) leaves the temp file: removed below
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

/** A lock file (or takeover marker) that could not be read or created, as STORAGE_ERROR. */
function lockFileError(name: string, file: string, error: unknown): OrchestratorError {
  if (error instanceof NotRegularFileError) {
    return new OrchestratorError('STORAGE_ERROR', `Could not lock ${name}: ${error.file} is ${error.what}, not a lock file this server made, so it is left alone. Nothing was changed. Remove it by hand (run "task-orchestrator doctor" to see what it is), then try again.`, { lock: error.file, errno: error.code });
  }
  return storageError(error, `lock ${name} (${file})`);
}

function lockLost(name: string, file: string, owner: LockOwner | null): OrchestratorError {
  const now = owner ? `pid ${owner.pid} on ${owner.host} holds it now` : 'it is gone';
  return new OrchestratorError(
    'LOCK_LOST',
    `The lock on ${name} was taken over while this change was being made (this process was paused or slower than MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS allows; ${now}). Nothing was changed. Read the task again (orchestrator_get_status) and repeat the call if it is still needed.`,
    { lock: file, holder: owner },
  );
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

import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, PlanKeyRecord } from '../../app/ports.js';
import { OrchestratorError } from '../../domain/errors.js';
import { KEY_RETENTION_MS, PLAN_KEYS_KEPT } from '../../domain/idempotency.js';
import { isValidTaskId } from '../../domain/ids.js';
import { createFileExclusive, isCode, nodeFs, readRegularFile, type DurableFs } from './durable-fs.js';
import { storageError } from './storage-error.js';

/** How often one process sweeps expired key files: the sweep reads the folder, so not on every call. */
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
const KEY_FILE = /^[0-9a-f]{64}\.json$/;

/**
 * plan_task idempotency keys: tasks/idempotency/<sha256 of the key>.json, each created exclusively
 * (hard link of a complete temp file: no reader sees half a record, and of two processes one creates
 * it, the other reads it). A record names the parent the call creates before that parent exists, so a
 * crash between the two leaves a record whose retry creates the parent under that same id.
 */
export class PlanKeys {
  private lastSweep = 0;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly fs: DurableFs = nodeFs,
    private readonly now: () => number = Date.now,
  ) {}

  async reserve(keySha256: string, proposed: PlanKeyRecord): Promise<PlanKeyRecord> {
    if (!/^[0-9a-f]{64}$/.test(keySha256)) throw new Error(`not a sha256: ${keySha256}`);
    await this.ensureDir();
    await this.sweepNowAndThen();
    const file = path.join(this.dir, `${keySha256}.json`);
    try {
      await createFileExclusive(file, `${JSON.stringify({ key_sha256: keySha256, ...proposed })}\n`, { durable: true }, this.fs);
      return proposed;
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw storageError(error, `create ${file}`);
    }
    return this.read(file);
  }

  private async read(file: string): Promise<PlanKeyRecord> {
    let json: unknown;
    try {
      json = JSON.parse((await readRegularFile(file)).toString('utf8'));
    } catch (error) {
      if (error instanceof SyntaxError) json = null;
      else throw storageError(error, `read ${file}`);
    }
    const record = json as Partial<PlanKeyRecord> | null;
    if (!record || typeof record.args_sha256 !== 'string' || typeof record.parent_task_id !== 'string' || !isValidTaskId(record.parent_task_id) || typeof record.at !== 'string') {
      throw new OrchestratorError('STORE_CORRUPT', `The idempotency key record ${file} is damaged, so this retry cannot be matched to its first call. Nothing was changed. Delete that file and call again (without the key if the first call may have created the task: check orchestrator_get_status).`, { file });
    }
    return { args_sha256: record.args_sha256, parent_task_id: record.parent_task_id, at: record.at };
  }

  private async ensureDir(): Promise<void> {
    const created = await mkdir(this.dir, { recursive: true });
    if (created) await this.fs.syncDir(path.dirname(this.dir)).catch((error: Error) => {
      throw storageError(error, `create ${this.dir}`);
    });
  }

  /** Removes key files older than KEY_RETENTION_MS, and the oldest beyond PLAN_KEYS_KEPT; at most hourly per process. */
  private async sweepNowAndThen(): Promise<void> {
    const now = this.now();
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    try {
      await this.sweep(now);
    } catch (error) {
      this.logger.warn(`Could not sweep old idempotency keys in ${this.dir}: ${(error as Error).message}`);
    }
  }

  async sweep(now: number = this.now()): Promise<number> {
    const files: { file: string; mtime: number }[] = [];
    for (const name of await readdir(this.dir)) {
      if (!KEY_FILE.test(name)) continue;
      const file = path.join(this.dir, name);
      const info = await stat(file).catch(() => null);
      if (info?.isFile()) files.push({ file, mtime: info.mtimeMs });
    }
    files.sort((a, b) => b.mtime - a.mtime);
    const doomed = files.filter((f, i) => i >= PLAN_KEYS_KEPT || now - f.mtime > KEY_RETENTION_MS);
    for (const { file } of doomed) await unlink(file).catch((error: unknown) => (isCode(error, 'ENOENT') ? undefined : Promise.reject(error)));
    if (doomed.length) this.logger.info(`Removed ${doomed.length} expired idempotency key(s)`, { dir: this.dir });
    return doomed.length;
  }
}

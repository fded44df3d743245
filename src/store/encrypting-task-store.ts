import type { ParentSummary, PlanKeyRecord, StoreProblem, StoreStatistics, TaskStore } from '../app/ports.js';
import { OrchestratorError } from '../domain/errors.js';
import { truncate } from '../domain/ids.js';
import type { ParentTask } from '../domain/model.js';
import { decryptText, keyFor, type Keyring } from '../safety/encryption.js';
import { decryptDocument, documentKeyId, encryptDocument, ParentCodec, parentKeyId } from '../safety/parent-codec.js';

/**
 * Encryption at rest for any store (README, "Encryption at rest"): the use cases see parents and
 * documents in clear, the store below keeps them as the codec makes them. With a current key every
 * write stores the whole parent encrypted (a clear one, or one under an older key, is converted by its
 * next write); without one, every write stores it in clear, and reading an encrypted parent needs its
 * key in the keyring (ENCRYPTION_KEY_REQUIRED / ENCRYPTION_KEY_MISMATCH, nothing changed).
 *
 * Listings come from the store's summaries, which it makes from what it stores: an encrypted parent's
 * summary holds envelopes (so the index cache and the database's summary column hold no clear text),
 * opened here, once per summary object (a store replaces the object when the parent changes).
 *
 * A text that fails authentication is corruption (STORE_CORRUPT): the parent is kept as it is, left out
 * of listings and reported with the store's problems until a good copy is read again.
 */
export class EncryptingTaskStore implements TaskStore {
  readonly codec: ParentCodec;
  readonly #opened = new WeakMap<ParentSummary, ParentSummary>();
  readonly #corrupt = new Map<string, StoreProblem>();

  constructor(
    readonly inner: TaskStore,
    keyring: Keyring,
    /** Where a parent is kept, for problem reports: its file, or its row. */
    private readonly whereIs: (parentTaskId: string) => string,
  ) {
    this.codec = new ParentCodec(keyring);
  }

  get keyring(): Keyring {
    return this.codec.keyring;
  }

  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  async create(build: (parentTaskId: string) => ParentTask): Promise<ParentTask> {
    let clear: ParentTask | undefined;
    const stored = await this.inner.create((id) => this.codec.forStorage((clear = build(id))));
    return clear && clear.parent_task_id === stored.parent_task_id ? clear : this.open(stored);
  }

  newParentId(): Promise<string> {
    return this.inner.newParentId();
  }

  reservePlanKey(keySha256: string, proposed: PlanKeyRecord): Promise<PlanKeyRecord> {
    return this.inner.reservePlanKey(keySha256, proposed);
  }

  async createWithId(parent: ParentTask): Promise<{ parent: ParentTask; created: boolean }> {
    const result = await this.inner.createWithId(this.codec.forStorage(parent));
    return { parent: result.created ? parent : this.open(result.parent), created: result.created };
  }

  importParent(parent: ParentTask, location: 'active' | 'archive'): Promise<boolean> {
    return this.inner.importParent(this.codec.forStorage(parent), location);
  }

  async read(parentTaskId: string): Promise<ParentTask> {
    return this.open(await this.inner.read(parentTaskId));
  }

  async update(parentTaskId: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): Promise<ParentTask> {
    const stored = await this.inner.update(parentTaskId, async (current) => {
      const clear = this.open(current);
      const next = await change(clear);
      return next === clear ? current : this.codec.forStorage(next);
    });
    return this.open(stored);
  }

  /**
   * Brings one parent and its documents to the keyring's state (encrypted with the current key, or in
   * clear without one) in one update of the store: 'converted', or 'already' when nothing needed it.
   * Documents are written first (in the file store each on its own; in PostgreSQL in the same
   * transaction): a kill in between leaves a document converted and its parent not yet, which reads
   * well either way, and a rerun finishes the parent.
   */
  async convert(parentTaskId: string): Promise<'converted' | 'already'> {
    let outcome: 'converted' | 'already' = 'already';
    await this.inner.update(parentTaskId, async (current) => {
      outcome = 'already';
      const clear = this.open(current);
      const documentsChanged = await this.convertDocuments(clear);
      const target = this.keyring.current?.id ?? null;
      if (parentKeyId(current) === target && !documentsChanged) return current;
      outcome = 'converted';
      // A new object even when the parent's texts were already right: its documents changed.
      return { ...this.codec.forStorage(clear) };
    });
    return outcome;
  }

  /**
   * convert() over every parent the store lists, active and archived, one update each (so servers running
   * beside it stay correct, and a kill loses at most the parent in hand: a rerun continues). A parent that
   * cannot be converted (its key missing, a tampered text) is counted and named, and the others go on.
   */
  async convertAll(onParent?: (parentTaskId: string, outcome: 'converted' | 'already') => void): Promise<ConversionReport> {
    const report: ConversionReport = { converted: 0, already: 0, failed: [], unreadable: [] };
    // The store's own listing, not this one: a parent this keyring cannot open must still be tried and named.
    const summaries = await this.inner.list({ includeArchived: true });
    for (const id of summaries.map((s) => s.parent_task_id)) {
      try {
        const outcome = await this.convert(id);
        report[outcome] += 1;
        onParent?.(id, outcome);
      } catch (error) {
        if (error instanceof OrchestratorError && error.code === 'TASK_NOT_FOUND') continue; // removed meanwhile
        report.failed.push({ parent_task_id: id, code: error instanceof OrchestratorError ? error.code : 'STORAGE_ERROR', message: (error as Error).message });
      }
    }
    report.unreadable = this.inner.problems().map((p) => ({ parent_task_id: p.parent_task_id, file: p.file, reason: p.reason }));
    return report;
  }

  /** Rewrites every document the parent names that is not in the keyring's state; whether any was. */
  private async convertDocuments(parent: ParentTask): Promise<boolean> {
    const target = this.keyring.current?.id ?? null;
    let changed = false;
    for (const path of documentsOf(parent)) {
      const stored = await this.inner.readDocument(path);
      if (stored === null || documentKeyId(stored) === target) continue;
      const place = parseDocumentPath(path);
      if (!place || place.parent !== parent.parent_task_id) continue; // a path edited by hand: not ours to rewrite
      const clear = this.openDocument(stored, path);
      await this.inner.saveDocument(place.parent, place.subtask, this.sealDocument(clear, path), place.number);
      changed = true;
    }
    return changed;
  }

  locationOf(parentTaskId: string): Promise<'active' | 'archive' | null> {
    return this.inner.locationOf(parentTaskId);
  }

  archiveIfComplete(parentTaskId: string): Promise<boolean> {
    return this.inner.archiveIfComplete(parentTaskId);
  }

  removeArchived(parentTaskIds: readonly string[]): Promise<string[]> {
    return this.inner.removeArchived(parentTaskIds);
  }

  parentsOfSubtask(subtaskId: string): Promise<string[]> {
    return this.inner.parentsOfSubtask(subtaskId);
  }

  async list(options: { includeArchived: boolean }): Promise<ParentSummary[]> {
    return this.openSummaries(await this.inner.list(options));
  }

  async statistics(options: { includeArchived: boolean }): Promise<StoreStatistics> {
    const statistics = await this.inner.statistics(options);
    return { ...statistics, withActiveSubtasks: this.openSummaries(statistics.withActiveSubtasks) };
  }

  problems(): StoreProblem[] {
    return [...this.inner.problems(), ...this.#corrupt.values()];
  }

  async saveDocument(parentTaskId: string, subtaskId: string, text: string, number: number): Promise<string> {
    const path = documentPath(parentTaskId, subtaskId, number);
    const saved = await this.inner.saveDocument(parentTaskId, subtaskId, this.sealDocument(text, path), number);
    // The ciphertext is bound to the path: a store naming its documents otherwise could not read them back.
    if (saved !== path) throw new Error(`the store saved a document as ${saved}, not ${path}`);
    return saved;
  }

  async readDocument(path: string): Promise<string | null> {
    const stored = await this.inner.readDocument(path);
    return stored === null ? null : this.openDocument(stored, path);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** A stored parent in clear; a text that fails authentication is reported as corruption of that parent. */
  private open(stored: ParentTask): ParentTask {
    const id = stored.parent_task_id;
    try {
      const clear = this.codec.decrypt(stored);
      this.#corrupt.delete(id);
      return clear;
    } catch (error) {
      throw this.noted(id, error);
    }
  }

  private sealDocument(text: string, path: string): string {
    return this.keyring.current ? encryptDocument(text, this.keyring, path) : decryptDocument(text, this.keyring, path);
  }

  private openDocument(stored: string, path: string): string {
    try {
      return decryptDocument(stored, this.keyring, path);
    } catch (error) {
      const place = parseDocumentPath(path);
      throw place ? this.noted(place.parent, error, path) : error;
    }
  }

  /** Records a STORE_CORRUPT refusal with the store's problems (the parent named), and returns the error. */
  private noted(parentTaskId: string, error: unknown, document?: string): unknown {
    if (!(error instanceof OrchestratorError) || error.code !== 'STORE_CORRUPT') return error;
    const file = document ?? this.whereIs(parentTaskId);
    this.#corrupt.set(parentTaskId, {
      file,
      parent_task_id: parentTaskId,
      kind: 'corrupt',
      reason: error.message,
      action: 'It is kept as it is. Bring the task back from a backup (task-orchestrator restore), or move it out of the store.',
    });
    return new OrchestratorError('STORE_CORRUPT', `Task ${parentTaskId} cannot be used: ${error.message}`, { ...(error.data ?? {}), parent_task_id: parentTaskId, file });
  }

  /** Summaries in clear; one whose texts fail authentication is left out and reported (as the store does with a corrupt file). */
  private openSummaries(summaries: readonly ParentSummary[]): ParentSummary[] {
    const out: ParentSummary[] = [];
    for (const summary of summaries) {
      let clear = this.#opened.get(summary);
      if (!clear) {
        try {
          clear = this.openSummary(summary);
        } catch (error) {
          const noted = this.noted(summary.parent_task_id, error);
          if (noted instanceof OrchestratorError && noted.code === 'STORE_CORRUPT') continue;
          throw noted;
        }
        this.#opened.set(summary, clear);
      }
      out.push(clear);
    }
    return out;
  }

  /**
   * A summary of an encrypted parent holds its title, description and subtask titles as the parent
   * does (envelopes, see summarize): opened with the parent's key and the same contexts the codec bound them to.
   */
  private openSummary(summary: ParentSummary): ParentSummary {
    const keyId = summary.encryption_key_id;
    if (keyId === undefined) return summary;
    const id = summary.parent_task_id;
    if (!/^[0-9a-f]{16}$/.test(keyId)) throw new OrchestratorError('STORE_CORRUPT', `its "encryption" field names no key id, so its encrypted texts cannot be read.`);
    const place = (...parts: string[]) => JSON.stringify([id, ...parts]);
    // Only the parent's own key: a text under another key was put there by hand (as the codec judges it).
    const ring: Keyring = { current: keyFor(this.keyring, keyId, `task ${id}`), previous: [] };
    const open = (text: string, context: string, what: string) => decryptText(text, ring, context, `task ${id} ${what}`);
    const { encryption_key_id: _key, ...rest } = summary;
    return {
      ...rest,
      title: open(summary.title, place('title'), 'title'),
      description: summary.description === '' ? '' : truncate(open(summary.description, place('description'), 'description'), 120),
      subtasks: summary.subtasks.map((s) => ({ ...s, title: open(s.title, place('subtask', s.task_id, 'title'), `subtask ${s.task_id} title`) })),
    };
  }
}

/** What convertAll did. */
export interface ConversionReport {
  converted: number;
  /** Already in the keyring's state: nothing written. */
  already: number;
  failed: { parent_task_id: string; code: string; message: string }[];
  /** Files or rows the store could not use at all (not listed, so not converted). */
  unreadable: { parent_task_id: string | null; file: string; reason: string }[];
}

/** Every document a parent names: the current detailed work of each subtask, earlier ones, and lost results'. */
export function documentsOf(parent: ParentTask): string[] {
  const paths = new Set<string>();
  for (const subtask of parent.subtasks) {
    if (subtask.detailed_work_file) paths.add(subtask.detailed_work_file);
    for (const earlier of subtask.earlier_work_files ?? []) paths.add(earlier);
    for (const lost of subtask.lost_results ?? []) if (typeof lost.detailed_work_file === 'string' && lost.detailed_work_file) paths.add(lost.detailed_work_file);
  }
  return [...paths];
}

/** The path both stores give document `number` of a subtask, relative to .task_orchestrator/. */
export function documentPath(parentTaskId: string, subtaskId: string, number: number): string {
  return `tasks/work/${parentTaskId}/${subtaskId}.${number}.md`;
}

function parseDocumentPath(path: string): { parent: string; subtask: string; number: number } | null {
  const match = /^tasks\/work\/([^/]+)\/([^/]+)\.(\d+)\.md$/.exec(path);
  return match ? { parent: match[1]!, subtask: match[2]!, number: Number(match[3]) } : null;
}

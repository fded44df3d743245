import type { StateEntry } from './entries.js';

/** What writing one entry did: written where there was none, skipped (the same was there), left (another was there), replaced (--force). */
export type PutOutcome = 'copied' | 'skipped' | 'conflict' | 'replaced';

/**
 * A store's whole state as entries (entries.ts), the one interface migrate, backup and restore use. The
 * file store and the PostgreSQL store each have one (file-state.ts, postgres-state.ts).
 */
export interface StateStore {
  readonly kind: 'file' | 'postgres';
  /** For people: the folder, or the database with its password hidden. */
  readonly description: string;
  /**
   * Every entry of one consistent snapshot (docs/data-safety.md, "What consistent means"), handed to
   * `visit` one at a time: role files, then each parent right after its documents, then plan keys.
   */
  snapshot(visit: (entry: StateEntry) => Promise<void>): Promise<void>;
  /**
   * Stores one entry durably (a parent: its own transaction, or its own atomic file), unless it is there:
   * the same content is skipped, other content is a conflict left as it is, or replaced when `force`.
   */
  put(entry: StateEntry, options: { force: boolean }): Promise<PutOutcome>;
  /**
   * Replaces the whole state by `entries` (a restore) so that a crash leaves the old state or the new
   * one, never a mix. `entries` may be called more than once (a transaction run again): each call reads them afresh.
   */
  replaceAll(entries: () => AsyncIterable<StateEntry>, onStep?: (step: string) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * The stores the contract suite runs against. Each kind makes a fresh, empty store and says how to open
 * it: the suite opens every kind the same way, through the composition root (openProject with these
 * settings), and never looks at how a kind keeps its data. A new store is one more entry in storeKinds().
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../../src/config.js';

/** A fresh, empty store of one kind. */
export interface PreparedStore {
  /** The project folder to open: every kind has one (role files and logs live there). */
  baseDir: string;
  /** Settings laid over readSettings({}) that select and configure this store (a database URL, say). */
  overrides: Partial<Settings>;
  /**
   * The text of a document as stored, by the path saveDocument returned. The port has no read for
   * documents (people open them from the path), so a kind says how to look; used only by assertions.
   */
  readDocument(relativePath: string): Promise<string>;
  /** Removes the store (its folder, its database); called once, after its tests, even when they failed. */
  cleanup(): Promise<void>;
}

export interface StoreKind {
  /** Shown in test names: "[file] ...". */
  name: string;
  /** settings overrides and a cleanup for a fresh, empty store */
  prepare(): Promise<PreparedStore>;
}

/** The file store: a fresh temporary project folder whose .task_orchestrator/ openProject creates. */
const fileKind: StoreKind = {
  name: 'file',
  async prepare() {
    const baseDir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-contract-'));
    return {
      baseDir,
      overrides: {},
      readDocument: (relativePath) => readFile(path.join(baseDir, '.task_orchestrator', relativePath), 'utf8'),
      cleanup: () => rm(baseDir, { recursive: true, force: true }),
    };
  },
};

/** Every store kind that can run here. */
export async function storeKinds(): Promise<StoreKind[]> {
  return [fileKind];
}

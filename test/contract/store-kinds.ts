/**
 * The stores the contract suite runs against. Each kind makes a fresh, empty store and says how to open
 * it: the suite opens every kind the same way, through the composition root (openProject with these
 * settings), and never looks at how a kind keeps its data. A new store is one more entry in storeKinds().
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../../src/config.js';
import { EncryptionKey, keyringOf } from '../../src/safety/encryption.js';
import { decryptDocument, isEncryptedDocument } from '../../src/safety/parent-codec.js';
import { freshDatabase, unavailable } from '../postgres/db.js';

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

/**
 * The PostgreSQL store (team mode): a fresh database per store, dropped after, and an empty project
 * folder for the logs and the role files the first server seeds the team's roles from.
 */
const postgresKind: StoreKind = {
  name: 'postgres',
  async prepare() {
    const baseDir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-contract-pg-'));
    const database = await freshDatabase();
    return {
      baseDir,
      overrides: { databaseUrl: database.url },
      async readDocument(relativePath) {
        const rows = await database.query<{ body: string }>('SELECT body FROM task_orchestrator.documents WHERE path = $1', [relativePath]);
        if (!rows[0]) throw new Error(`no document ${relativePath} in the database`);
        return rows[0].body;
      },
      async cleanup() {
        await database.drop();
        await rm(baseDir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * A kind with encryption at rest: its stores opened with a key (the same key for every opening), and its
 * documents read back through decryption, so that every contract test holds for an encrypted store too.
 */
function encrypted(kind: StoreKind): StoreKind {
  const keyring = keyringOf(EncryptionKey.generate(`the ${kind.name}+key contract kind`).key);
  return {
    name: `${kind.name}+key`,
    async prepare() {
      const prepared = await kind.prepare();
      return {
        ...prepared,
        overrides: { ...prepared.overrides, keyring },
        readDocument: async (relativePath) => {
          const stored = await prepared.readDocument(relativePath);
          if (!isEncryptedDocument(stored)) throw new Error(`${relativePath} is stored in clear in an encrypted store`);
          return decryptDocument(stored, keyring, relativePath);
        },
      };
    },
  };
}

let skipNoted = false;

/** Every store kind that can run here: PostgreSQL only where a server answers (db.ts says why not, once; CI=true requires it). */
export async function storeKinds(): Promise<StoreKind[]> {
  const kinds = [fileKind];
  if (unavailable) {
    if (!skipNoted) console.log(`# contract suite: the postgres kind is skipped: ${unavailable}`);
    skipNoted = true;
  } else {
    kinds.push(postgresKind);
  }
  return withEncryptedKinds(kinds);
}

/**
 * CONTRACT_ENCRYPTION=1 adds each kind with encryption at rest ("file+key", "postgres+key");
 * CONTRACT_ENCRYPTION=only runs those alone. Off by default: the suite would take twice as long.
 */
function withEncryptedKinds(kinds: StoreKind[]): StoreKind[] {
  const mode = process.env.CONTRACT_ENCRYPTION;
  if (mode === 'only') return kinds.map(encrypted);
  if (mode === '1' || mode === 'true') return [...kinds, ...kinds.map(encrypted)];
  return kinds;
}

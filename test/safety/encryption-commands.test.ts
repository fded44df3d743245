/**
 * `encrypt`, `rotate-key` and `decrypt` on both stores, through the built CLI (run `npm run build`
 * first): everything converted in place; rotate-key SIGKILLed midway and run again ends with everything
 * under the new key; decrypt gives back the clear tasks and byte-equal documents.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openProject } from '../../src/compose/open-project.js';
import { readSettings } from '../../src/config.js';
import type { ParentTask } from '../../src/domain/model.js';
import { silentLogger } from '../../src/logging/logger.js';
import { EncryptionKey, keyringOf, NO_KEYS, type Keyring } from '../../src/safety/encryption.js';
import { documentKeyId, parentKeyId } from '../../src/safety/parent-codec.js';
import { documentsOf, type EncryptingTaskStore } from '../../src/store/encrypting-task-store.js';
import { forEachStoreKind, withFreshStore } from '../contract/harness.js';
import type { PreparedStore } from '../contract/store-kinds.js';
import { CLI, runCli, type CliResult } from '../cli/helpers.js';

const PARENTS = 120;

/** Stored parents and documents as the store keeps them (below encryption), by id and by path. */
interface StoredState {
  parents: Map<string, ParentTask>;
  documents: Map<string, string>;
}

async function withStore<T>(prepared: PreparedStore, keyring: Keyring, work: (store: EncryptingTaskStore) => Promise<T>): Promise<T> {
  const project = await openProject(prepared.baseDir, { ...readSettings({}), ...prepared.overrides, keyring }, silentLogger);
  try {
    return await work(project.encryption);
  } finally {
    await project.close();
  }
}

async function storedState(prepared: PreparedStore): Promise<StoredState> {
  return withStore(prepared, NO_KEYS, async ({ inner }) => {
    const parents = new Map<string, ParentTask>();
    const documents = new Map<string, string>();
    for (const { parent_task_id: id } of await inner.list({ includeArchived: true })) {
      const parent = await inner.read(id);
      parents.set(id, parent);
      for (const file of documentsOf(parent)) documents.set(file, (await inner.readDocument(file)) ?? assert.fail(`no document ${file}`));
    }
    return { parents, documents };
  });
}

/** PARENTS parents in clear, every one with results, every tenth with a document of detailed work; some archived. */
async function seed(prepared: PreparedStore): Promise<void> {
  const project = await openProject(prepared.baseDir, { ...readSettings({}), ...prepared.overrides }, silentLogger);
  try {
    const app = project.orchestrator;
    for (let i = 0; i < PARENTS; i++) {
      const plan = await app.planTask({ description: `Secret Ibex plan ${i}`, subtasks: [{ title: `Gecko step ${i}`, description: 'do it', specialist_type: 'implementer' }, { title: 'later', description: 'later', specialist_type: 'tester' }] });
      const first = plan.subtasks[0]!.task_id;
      await app.executeSubtask({ task_id: first });
      await app.completeSubtask({ task_id: first, results: `Marmot result ${i}`, ...(i % 10 === 0 ? { detailed_work: `Tapir details ${i} `.repeat(400) } : {}) });
      if (i % 3 === 0) {
        await app.executeSubtask({ task_id: plan.subtasks[1]!.task_id });
        await app.completeSubtask({ task_id: plan.subtasks[1]!.task_id, results: 'done' });
      }
    }
  } finally {
    await project.close();
  }
}

function keyFile(dir: string, name: string): { key: EncryptionKey; file: string } {
  const { key, bytes } = EncryptionKey.generate(name);
  const file = path.join(dir, `${name}.key`);
  writeFileSync(file, bytes);
  chmodSync(file, 0o600);
  return { key, file };
}

function targetOf(prepared: PreparedStore): string[] {
  return prepared.overrides.databaseUrl ? ['--database-url', prepared.overrides.databaseUrl] : ['--base-dir', prepared.baseDir];
}

function cli(prepared: PreparedStore, command: string, env: Record<string, string>): Promise<CliResult> {
  return runCli([command, ...targetOf(prepared)], { env });
}

/** Starts rotate-key and SIGKILLs it once it has converted `after` parents; resolves when it is gone. */
function rotateAndKill(prepared: PreparedStore, env: Record<string, string>, after: number): Promise<number> {
  const target = targetOf(prepared);
  const child = spawn(process.execPath, [CLI, 'rotate-key', '--verbose', ...target], { cwd: prepared.baseDir, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = 0;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString().split('\n').filter((l) => l.startsWith('re-encrypted ')).length;
      if (seen >= after && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve(seen) : reject(new Error(`rotate-key ended by itself (${code}) before it was killed (make PARENTS larger?): ${stderr}`))));
  }).finally(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  }) as Promise<number>;
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MCP_TASK_ORCHESTRATOR_')));
}

function keyIdsOf(state: StoredState): Set<string | null> {
  return new Set([...[...state.parents.values()].map(parentKeyId), ...[...state.documents.values()].map(documentKeyId)]);
}

/** A parent as a person compares it: conversions count as writes (revision), the rest is the same. */
function comparable(parent: ParentTask): unknown {
  const { revision: _revision, ...rest } = parent;
  return rest;
}

await forEachStoreKind('encrypt, rotate-key (killed, run again) and decrypt', (kind) => {
  test('every parent and document converted in place, resumably, and back to the originals', { timeout: 300_000 }, async () => {
    await withFreshStore(kind, async (fixture) => {
      const prepared = fixture.prepared;
      await seed(prepared);
      const original = await storedState(prepared);
      assert.equal(original.parents.size, PARENTS);
      assert.ok(original.documents.size >= PARENTS / 10);
      assert.deepEqual(keyIdsOf(original), new Set([null]));

      const a = keyFile(prepared.baseDir, 'a');
      const b = keyFile(prepared.baseDir, 'b');
      const encrypted = await cli(prepared, 'encrypt', { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: a.file });
      assert.equal(encrypted.code, 0, encrypted.stderr);
      assert.match(encrypted.stdout, new RegExp(`${PARENTS} tasks encrypted with the key ${a.key.id}; 0 tasks already so`));
      assert.deepEqual(keyIdsOf(await storedState(prepared)), new Set([a.key.id]));
      // The detailed work's file holds ciphertext: show prints it in clear.
      const [documentPath, documentText] = [...original.documents][0]!;
      const shown = await runCli(['show', documentPath.split('/')[2]!, ...targetOf(prepared)], { env: { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: a.file } });
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(shown.stdout.includes(documentText.trim().slice(0, 200)), shown.stdout);
      const again = await cli(prepared, 'encrypt', { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: a.file });
      assert.match(again.stdout, new RegExp(`0 tasks encrypted with the key ${a.key.id}; ${PARENTS} tasks already so`));

      const rotateEnv = { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: b.file, MCP_TASK_ORCHESTRATOR_ENCRYPTION_PREVIOUS_KEY_FILES: a.file };
      const done = await rotateAndKill(prepared, rotateEnv, 5);
      const midway = await storedState(prepared);
      const underB = [...midway.parents.values()].filter((p) => parentKeyId(p) === b.key.id).length;
      assert.ok(underB >= done && underB < PARENTS, `killed midway: ${underB} of ${PARENTS} under the new key`);
      // Every parent reads with both keys configured, whichever key it is under now.
      await withStore(prepared, keyringOf(b.key, [a.key]), async (store) => {
        for (const id of midway.parents.keys()) await store.read(id);
      });

      const resumed = await cli(prepared, 'rotate-key', rotateEnv);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`${PARENTS - underB} tasks re-encrypted with the key ${b.key.id}; ${underB} tasks already so`));
      assert.deepEqual(keyIdsOf(await storedState(prepared)), new Set([b.key.id]));
      await withStore(prepared, keyringOf(b.key), async (store) => {
        for (const id of original.parents.keys()) assert.deepEqual(comparable(await store.read(id)), comparable(original.parents.get(id)!));
        for (const [file, text] of original.documents) assert.equal(await store.readDocument(file), text);
      });

      const decrypted = await cli(prepared, 'decrypt', { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: b.file });
      assert.equal(decrypted.code, 0, decrypted.stderr);
      const clear = await storedState(prepared);
      assert.deepEqual(keyIdsOf(clear), new Set([null]));
      for (const [id, parent] of original.parents) assert.deepEqual(comparable(clear.parents.get(id)!), comparable(parent));
      assert.deepEqual(clear.documents, original.documents, 'documents byte-equal to the originals');
    });
  });

  test('encrypt without a key, and decrypt without one, are refused with exit code 2 and nothing changed', async () => {
    await withFreshStore(kind, async (fixture) => {
      const before = await storedState(fixture.prepared);
      for (const command of ['encrypt', 'rotate-key', 'decrypt']) {
        const refused = await cli(fixture.prepared, command, {});
        assert.equal(refused.code, 2, refused.stderr);
        assert.match(refused.stderr, /MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE/);
      }
      assert.deepEqual(await storedState(fixture.prepared), before);
    });
  });
});

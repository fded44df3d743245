/**
 * Encryption at rest on both stores (README, "Encryption at rest"): with a key the whole workflow works
 * and no sensitive text is in the project folder or the database; a missing or wrong key is refused
 * with nothing changed; a tampered ciphertext is corruption, reported with the store's problems.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { statusReport } from '../../src/app/status-report.js';
import { EncryptionKey, keyringOf, NO_KEYS, type Keyring } from '../../src/safety/encryption.js';
import { contentsOf, forEachStoreKind, refusal, withFreshStore, type StoreFixture } from '../contract/harness.js';
import type { PreparedStore } from '../contract/store-kinds.js';

const SECRET_DESCRIPTION = 'Move the Zanzibar payroll ledger to the new bank';
const SECRET_CONTEXT = 'the vault code is purple-otter-42';
const SECRET_TITLE = 'Reconcile Quokka accounts';
const SECRET_RESULT = 'Found 17 mismatched Wombat invoices';
const SECRET_DETAIL = `Detailed Platypus audit trail. ${'line of the audit '.repeat(300)}`;
const SECRETS = ['Zanzibar', 'purple-otter', 'Quokka', 'Wombat', 'Platypus'];

const keyA = EncryptionKey.generate('key A').key;
const keyB = EncryptionKey.generate('key B').key;

/** Runs the whole workflow: plan, execute, complete with results and long detailed work, status, synthesis. */
async function workflow(fixture: StoreFixture, keyring: Keyring): Promise<{ parentId: string; documentPath: string }> {
  const { orchestrator } = await fixture.open({ settings: { keyring } });
  const plan = await orchestrator.planTask({
    description: SECRET_DESCRIPTION,
    context: SECRET_CONTEXT,
    subtasks: [
      { task_id: 'first', title: SECRET_TITLE, description: 'Check every account', specialist_type: 'implementer' },
      { task_id: 'second', title: 'Write it up', description: 'Summarize', specialist_type: 'documenter', dependencies: ['first'] },
    ],
  });
  const [first, second] = plan.subtasks.map((s) => s.task_id) as [string, string];
  const prompt = await orchestrator.executeSubtask({ task_id: first });
  assert.match(JSON.stringify(prompt), /Quokka/, 'the prompt holds the clear title');
  const done = await orchestrator.completeSubtask({ task_id: first, results: SECRET_RESULT, detailed_work: SECRET_DETAIL, artifacts: ['ledger-wombat.csv'] });
  assert.ok(done.detailed_work_file, 'the detailed work went to a document');
  const next = await orchestrator.executeSubtask({ task_id: second });
  assert.match(JSON.stringify(next), /Wombat invoices/, 'the dependency results reach the next prompt in clear');
  assert.match(JSON.stringify(await orchestrator.getStatus({})), /Quokka/, 'listings show the clear subtask titles');
  assert.match(JSON.stringify(await statusReport(orchestrator.ctx, { includeArchived: true })), /Zanzibar payroll/, 'listings show the clear description');
  assert.match(JSON.stringify(await orchestrator.initializeSession()), /Zanzibar payroll/, 'a session starts with the clear description');
  await orchestrator.completeSubtask({ task_id: second, results: 'written' });
  const synthesis = await orchestrator.synthesizeResults({ parent_task_id: plan.parent_task_id });
  assert.match(JSON.stringify(synthesis), /Wombat invoices/);
  // One more that stays active, so that later openings list it from the index cache or the summary column.
  await orchestrator.planTask({ description: 'Zanzibar side quest', subtasks: [{ title: 'Quokka census', description: 'count them', specialist_type: 'implementer' }] });
  assert.equal((await fixture.open({ settings: { keyring } })).store.problems().length, 0);
  return { parentId: plan.parent_task_id, documentPath: done.detailed_work_file };
}

/** Every file under the folder whose bytes contain one of the texts: what `grep -r` would find. */
function filesHolding(dir: string, texts: string[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(dir, entry);
    if (!statSync(file).isFile()) continue;
    const content = readFileSync(file);
    for (const text of texts) if (content.includes(text)) found.push(`${entry}: ${text}`);
  }
  return found;
}

/** The database as pg_dump writes it (every table, every column), for the postgres kind; '' for the file store. */
function databaseDump(prepared: PreparedStore): string {
  const url = prepared.overrides.databaseUrl;
  return url ? execFileSync('pg_dump', ['--data-only', url], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }) : '';
}

await forEachStoreKind('encryption at rest', (kind) => {
  test('with a key, the whole workflow works, and no sensitive text is in the folder or the database', async () => {
    await withFreshStore(kind, async (fixture) => {
      const keyring = keyringOf(keyA);
      await workflow(fixture, keyring);
      assert.deepEqual(filesHolding(fixture.prepared.baseDir, SECRETS), []);
      const dump = databaseDump(fixture.prepared);
      if (fixture.prepared.overrides.databaseUrl) assert.match(dump, /enc:v1:/, 'the dump holds the parents, encrypted');
      assert.deepEqual(SECRETS.filter((s) => dump.includes(s)), []);
    });
  });

  test('without the key: ENCRYPTION_KEY_REQUIRED naming the key id; with another key: ENCRYPTION_KEY_MISMATCH; nothing changed', async () => {
    await withFreshStore(kind, async (fixture) => {
      const { parentId } = await workflow(fixture, keyringOf(keyA));
      const before = await contentsOf((await fixture.open({ settings: { keyring: keyringOf(keyA) } })).store);
      const stateBefore = storedState(fixture.prepared);
      for (const [keyring, code] of [[NO_KEYS, 'ENCRYPTION_KEY_REQUIRED'], [keyringOf(keyB), 'ENCRYPTION_KEY_MISMATCH']] as const) {
        const { orchestrator } = await fixture.open({ settings: { keyring } });
        const read = await refusal(orchestrator.ctx.store.read(parentId), code);
        assert.match(read.message, new RegExp(keyA.id));
        await refusal(orchestrator.getStatus({ include_completed: true }), code);
        await refusal(statusReport(orchestrator.ctx, { includeArchived: true }), code);
        await refusal(orchestrator.synthesizeResults({ parent_task_id: parentId }), code);
        await refusal(orchestrator.executeSubtask({ task_id: `${parentId}.1`, force: true }), code);
      }
      assert.deepEqual(await storedState(fixture.prepared), await stateBefore, 'nothing stored changed');
      const reopened = await fixture.open({ settings: { keyring: keyringOf(keyA) } });
      assert.deepEqual(await contentsOf(reopened.store), before);
      // A new opening lists from the index cache (file store) or the summary column (PostgreSQL): still in clear.
      const listing = JSON.stringify([await statusReport(reopened.orchestrator.ctx, { includeArchived: true }), await reopened.orchestrator.getStatus({ include_completed: true })]);
      assert.match(listing, /Zanzibar side quest/);
      assert.match(listing, /Quokka census/);
      assert.doesNotMatch(listing, /enc:v1:/);
    });
  });

  test('a tampered ciphertext is corruption: refused, kept as it is, left out of listings and reported', async () => {
    await withFreshStore(kind, async (fixture) => {
      const keyring = keyringOf(keyA);
      const { parentId } = await workflow(fixture, keyring);
      const { orchestrator: other } = await fixture.open({ settings: { keyring } });
      const healthy = (await other.planTask({ description: 'A healthy task', subtasks: [{ title: 'one', description: 'one', specialist_type: 'implementer' }] })).parent_task_id;
      await tamper(fixture.prepared, parentId);
      const tampered = await storedState(fixture.prepared);
      const { orchestrator, store } = await fixture.open({ settings: { keyring } });
      const refused = await refusal(store.read(parentId), 'STORE_CORRUPT');
      assert.match(refused.message, /authentication tag|not encrypted with the key/);
      await refusal(orchestrator.synthesizeResults({ parent_task_id: parentId }), 'STORE_CORRUPT');
      const status = await statusReport(orchestrator.ctx, { includeArchived: true });
      const listed = JSON.stringify(status);
      assert.ok(listed.includes(healthy), 'the other tasks are still listed');
      assert.ok(store.problems().some((p) => p.parent_task_id === parentId && p.kind === 'corrupt'), 'reported with the store\'s problems');
      assert.match(JSON.stringify(status.storage_problems), new RegExp(parentId));
      await refusal(orchestrator.executeSubtask({ task_id: `${parentId}.1`, force: true }), 'STORE_CORRUPT');
      assert.deepEqual(await storedState(fixture.prepared), tampered, 'the damaged task is kept as it is');
    });
  });
});

/** What the store keeps, to compare before and after refused calls: the task files, or every row of the parents and documents. */
async function storedState(prepared: PreparedStore): Promise<unknown> {
  const url = prepared.overrides.databaseUrl;
  if (url) return databaseDump(prepared).replace(/^(--|\\).*$/gm, ''); // comments, and \restrict's random token
  const tasks = path.join(prepared.baseDir, '.task_orchestrator', 'tasks');
  const state: Record<string, string> = {};
  for (const entry of readdirSync(tasks, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(tasks, entry);
    // The tasks and their documents; not the index cache or the journal, which a reader may bring up to date.
    if (statSync(file).isFile() && /^(active|archive|work)\//.test(entry.split(path.sep).join('/'))) state[entry] = readFileSync(file, 'utf8');
  }
  return state;
}

/** Flips one character inside the encrypted description of a stored parent (its file, or its row). */
async function tamper(prepared: PreparedStore, parentId: string): Promise<void> {
  const flip = (body: string) => {
    const parent = JSON.parse(body) as { description: string };
    const at = parent.description.length - 5;
    const c = parent.description[at] === 'A' ? 'B' : 'A';
    parent.description = parent.description.slice(0, at) + c + parent.description.slice(at + 1);
    return JSON.stringify(parent, null, 2);
  };
  const url = prepared.overrides.databaseUrl;
  if (!url) {
    const tasks = path.join(prepared.baseDir, '.task_orchestrator', 'tasks');
    const file = [path.join(tasks, 'archive', `${parentId}.json`), path.join(tasks, 'active', `${parentId}.json`)].find((f) => statSync(f, { throwIfNoEntry: false }));
    assert.ok(file);
    writeFileSync(file, flip(readFileSync(file, 'utf8')));
    return;
  }
  const rows = await query<{ body: string }>(url, 'SELECT body FROM task_orchestrator.parents WHERE parent_task_id = $1', [parentId]);
  await query(url, 'UPDATE task_orchestrator.parents SET body = $2 WHERE parent_task_id = $1', [parentId, flip(rows[0]!.body)]);
}

async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

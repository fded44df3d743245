import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseTaskFile } from '../../src/domain/task-file.js';
import { CLI, removeDir, runCli, tempDir } from '../cli/helpers.js';
import { freshDatabase, unavailable, type TestDatabase } from '../postgres/db.js';
import { seedParents, taskTree } from './helpers.js';

const WRITER = path.resolve(import.meta.dirname, 'workers/writer.ts');
const dirs: string[] = [];
const dbs: TestDatabase[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
  for (const db of dbs) await db.drop();
});

async function newDir(): Promise<string> {
  const dir = await tempDir('orchestrator-backup-');
  dirs.push(dir);
  return dir;
}

async function newDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase();
  dbs.push(db);
  return db;
}

/** Every parent of a project as its task file parsed, by id. */
async function parentsOf(dir: string) {
  const out = new Map<string, ReturnType<typeof parseTaskFile>>();
  for (const sub of ['active', 'archive']) {
    const folder = path.join(dir, '.task_orchestrator', 'tasks', sub);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      if (name.endsWith('.json')) out.set(name.slice(0, -5), parseTaskFile(await readFile(path.join(folder, name), 'utf8')));
    }
  }
  return out;
}

interface Writer {
  child: ChildProcess;
  acks: { line: string; at: number }[];
  done: Promise<unknown>;
}

function startWriter(dir: string, index: number, count: number, env: Record<string, string>): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(index), String(count)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: Writer['acks'] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      acks.push({ line: buffer.slice(0, nl), at: Date.now() });
      buffer = buffer.slice(nl + 1);
    }
  });
  return { child, acks, done: new Promise((resolve) => child.on('exit', resolve)) };
}

const kinds = [
  { kind: 'file', skip: false as string | false },
  { kind: 'postgres', skip: unavailable ? `skipped: ${unavailable}` : (false as string | false) },
];

for (const { kind, skip } of kinds) {
  test(`${kind} store: a backup taken while 4 writers write, restored into an empty project, holds every change acknowledged before it began`, { skip }, async () => {
    const dir = await newDir();
    const env: Record<string, string> = kind === 'postgres' ? { MCP_TASK_ORCHESTRATOR_DATABASE_URL: (await newDatabase()).url } : {};
    const writers = [0, 1, 2, 3].map((i) => startWriter(dir, i, 400, env));
    try {
      while (writers.some((w) => w.acks.length < 10)) await new Promise((resolve) => setTimeout(resolve, 20));
      const startedAt = Date.now();
      const archive = path.join(dir, 'during.tar.gz');
      const backup = await runCli(['backup', '--to', archive, '--base-dir', dir], { env });
      assert.equal(backup.code, 0, backup.stderr);
      assert.ok(writers.some((w) => w.child.exitCode === null), 'the writers were still writing when the backup ended');

      const target = await newDir();
      const restore = await runCli(['restore', archive, '--base-dir', target]);
      assert.equal(restore.code, 0, restore.stderr);
      const restored = await parentsOf(target);
      for (const [id, parsed] of restored) assert.ok(parsed.ok, `${id} in the backup is a whole task file`);
      let checked = 0;
      for (const ack of writers.flatMap((w) => w.acks).filter((a) => a.at < startedAt)) {
        const [, what, first, second] = ack.line.split(' ');
        const parentId = what === 'plan' ? first! : second!;
        const parsed = restored.get(parentId);
        assert.ok(parsed?.ok, `acknowledged before the backup began: ${ack.line}`);
        if (what === 'complete') assert.equal(parsed.value.subtasks.find((s) => s.task_id === first)?.status, 'completed', ack.line);
        checked++;
      }
      assert.ok(checked >= 40, `checked ${checked} acknowledged changes`);
    } finally {
      for (const w of writers) w.child.kill('SIGKILL');
      await Promise.all(writers.map((w) => w.done));
    }
  });
}

test('an archive with one flipped byte is refused, and nothing is changed', async () => {
  const dir = await newDir();
  await seedParents(dir, 6);
  const archive = path.join(dir, 'good.tar.gz');
  assert.equal((await runCli(['backup', '--to', archive, '--base-dir', dir])).code, 0);
  const target = await newDir();
  await seedParents(target, 3);
  const before = await taskTree(target);
  const bytes = await readFile(archive);
  for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 10]) {
    const flipped = Buffer.from(bytes);
    flipped[at]! ^= 0x01;
    const bad = path.join(dir, `bad-${at}.tar.gz`);
    await writeFile(bad, flipped);
    const refused = await runCli(['restore', bad, '--base-dir', target]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /BACKUP_INVALID|damaged|not|checksum|corrupt/i);
    assert.deepEqual(await taskTree(target), before, `flipped byte ${at}: nothing changed`);
    assert.deepEqual(await readdir(path.join(target, '.task_orchestrator', 'backups')).catch(() => []), [], 'not even a backup of the current state');
  }
});

test('restore --dry-run says what would change and changes nothing', async () => {
  const dir = await newDir();
  await seedParents(dir, 4);
  const archive = path.join(dir, 'a.tar.gz');
  assert.equal((await runCli(['backup', '--to', archive, '--base-dir', dir])).code, 0);
  await seedParents(dir, 2, {}, 'later'); // two more after the backup: a restore removes them
  const before = await taskTree(dir);
  const dry = await runCli(['restore', archive, '--dry-run', '--json', '--base-dir', dir]);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.deepEqual([plan.added.length, plan.replaced.length, plan.removed.length, plan.unchanged], [0, 0, 2, 4]);
  assert.deepEqual(await taskTree(dir), before);
});

test('restore killed at each step of the swap, and at times while staging, leaves the old state or the new one', async () => {
  const source = await newDir();
  await seedParents(source, 30);
  const archive = path.join(source, 'new.tar.gz');
  assert.equal((await runCli(['backup', '--to', archive, '--base-dir', source])).code, 0);
  const newState = await taskTree(source);
  const outcomes: string[] = [];
  const points: { step?: string; delayMs?: number }[] = [
    ...['staged', 'intent', 'moved-old', 'swapped', 'roles'].map((step) => ({ step })),
    ...[250, 500, 750, 1000, 1250].map((delayMs) => ({ delayMs })),
  ];
  for (const point of points) {
    const target = await newDir();
    await seedParents(target, 5);
    const oldState = await taskTree(target);
    const env = point.step ? { MCP_TASK_ORCHESTRATOR_TEST_KILL_AT_RESTORE_STEP: point.step } : {};
    const child = spawn(process.execPath, [CLI, 'restore', archive, '--base-dir', target], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const timer = point.delayMs ? setTimeout(() => child.kill('SIGKILL'), point.delayMs) : null;
    const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    if (timer) clearTimeout(timer);
    if (point.step) assert.equal(signal, 'SIGKILL', `killed itself at ${point.step}`);
    // The next open (here: status) finishes a restore whose intent was recorded.
    assert.equal((await runCli(['status', '--base-dir', target])).code, 0);
    const now = await taskTree(target);
    const which = sameTree(now, newState) ? 'new' : sameTree(now, oldState) ? 'old' : 'MIX';
    outcomes.push(`${point.step ?? `${point.delayMs}ms`}: ${which}`);
    assert.notEqual(which, 'MIX', `killed at ${point.step ?? `${point.delayMs} ms`}: the old state or the new, never a mix`);
    if (point.step && point.step !== 'staged') assert.equal(which, 'new', `killed after the intent (${point.step}): rolled forward`);
    if (point.step === 'staged') assert.equal(which, 'old', 'killed before the intent: the old state');
  }
  console.log(outcomes.join('\n'));
});

/** Task trees compared without the files the store keeps for itself (journal, index cache). */
function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  const strip = (m: Map<string, string>) => [...m].filter(([k]) => !/journal\.log|index-cache\.json/.test(k));
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

test('restore across store kinds: a file backup into PostgreSQL, and its backup back into files, equal byte for byte', { skip: unavailable ? `skipped: ${unavailable}` : false }, async () => {
  const source = await newDir();
  await seedParents(source, 12);
  const expected = await taskTree(source);
  const fileArchive = path.join(source, 'files.tar.gz');
  assert.equal((await runCli(['backup', '--to', fileArchive, '--base-dir', source])).code, 0);
  const db = await newDatabase();
  const team = await newDir();
  const intoDb = await runCli(['restore', fileArchive, '--base-dir', team, '--database-url', db.url]);
  assert.equal(intoDb.code, 0, intoDb.stderr);
  assert.match(intoDb.stdout, /12 parents were added/);
  const dbArchive = path.join(team, 'db.tar.gz');
  const fromDb = await runCli(['backup', '--to', dbArchive, '--base-dir', team, '--database-url', db.url, '--json']);
  assert.equal(fromDb.code, 0, fromDb.stderr);
  assert.equal(JSON.parse(fromDb.stdout).source.store, 'postgres');
  const target = await newDir();
  assert.equal((await runCli(['restore', dbArchive, '--base-dir', target])).code, 0);
  assert.ok(sameTree(await taskTree(target), expected));
});

test('with a key, backups are encrypted with it: no known text in the archive, restore needs the key and brings everything back', async () => {
  const dir = await newDir();
  const keyFile = path.join(dir, 'tasks.key');
  await writeFile(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const keyEnv = { MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE: keyFile };
  const source = path.join(dir, 'source');
  const target = path.join(dir, 'target');
  await mkdir(source);
  await mkdir(target);
  await seedParents(source, 3, keyEnv);
  const backup = await runCli(['backup', '--base-dir', source, '--json'], { env: keyEnv });
  assert.equal(backup.code, 0, backup.stderr);
  const archive = JSON.parse(backup.stdout).file as string;
  assert.match(path.basename(archive), /\.tar\.gz\.enc$/, 'named as encrypted');
  const bytes = await readFile(archive);
  assert.ok(!bytes.includes('build something') && !bytes.includes('tasks/active/'), 'neither task text nor entry names in clear');
  assert.notEqual(bytes[0], 0x1f, 'not a plain gzip stream');

  const refused = await runCli(['restore', archive, '--base-dir', target]);
  assert.notEqual(refused.code, 0, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /is encrypted \(key id [0-9a-f]{16}\) and no encryption key is configured.*Nothing was changed/);
  assert.equal((await parentsOf(target)).size, 0, 'nothing restored without the key');

  const restored = await runCli(['restore', archive, '--base-dir', target], { env: keyEnv });
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual([...(await parentsOf(target)).keys()].sort(), [...(await parentsOf(source)).keys()].sort());
  const status = await runCli(['status', '--json', '--base-dir', target], { env: keyEnv });
  assert.match(status.stdout, /build something/, 'readable with the key after the restore');
});

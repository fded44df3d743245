import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, removeDir, runCli, tempDir } from '../cli/helpers.js';
import { freshDatabase, skipWithoutPostgres, type TestDatabase } from '../postgres/db.js';
import { seedParents, taskTree } from './helpers.js';

/** migrate --to-postgres / --from-postgres through the built CLI (run `npm run build` first). */
describe('migrate between the file store and PostgreSQL', skipWithoutPostgres, () => {
  const dbs: TestDatabase[] = [];
  const dirs: string[] = [];
  let source: string;
  let expected: Map<string, string>;

  before(async () => {
    source = await tempDir('orchestrator-migrate-');
    dirs.push(source);
    await seedParents(source, 24);
    expected = await taskTree(source);
  });
  after(async () => {
    for (const dir of dirs) await removeDir(dir);
    for (const db of dbs) await db.drop();
  });

  async function newDatabase(): Promise<TestDatabase> {
    const db = await freshDatabase();
    dbs.push(db);
    return db;
  }

  async function newDir(): Promise<string> {
    const dir = await tempDir('orchestrator-migrate-');
    dirs.push(dir);
    return dir;
  }

  test('file -> PostgreSQL -> a new empty project: the same task files and documents, byte for byte; reruns copy nothing', async () => {
    assert.ok([...expected.keys()].some((k) => k.startsWith('archive/')) && [...expected.keys()].some((k) => k.startsWith('work/')), 'the seed has archived parents and documents');
    const db = await newDatabase();
    const to = await runCli(['migrate', '--to-postgres', db.url, '--base-dir', source, '--json']);
    assert.equal(to.code, 0, to.stderr);
    const report = JSON.parse(to.stdout);
    assert.equal(report.copied.parents_active + report.copied.parents_archived, 24);
    assert.equal(report.copied.parents_archived, 8);
    assert.equal(report.copied.documents, 12);
    assert.equal(report.copied.plan_keys, 24);
    assert.ok(report.copied.role_files >= 1);

    const again = JSON.parse((await runCli(['migrate', '--to-postgres', db.url, '--base-dir', source, '--json'])).stdout);
    assert.equal(Object.values(again.copied as Record<string, number>).reduce((a, b) => a + b, 0), 0, 'a rerun copies nothing');
    assert.deepEqual(again.skipped, report.copied);

    const target = await newDir();
    const back = await runCli(['migrate', '--from-postgres', db.url, '--base-dir', target]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /24 new|new/);
    assert.deepEqual(await taskTree(target), expected);
    const rerun = await runCli(['migrate', '--from-postgres', db.url, '--base-dir', target]);
    assert.match(rerun.stdout, /^0 new, \d+ already there, 0 conflicts/m);
  });

  test('a parent with other content in the target is a conflict, left as it is; --force replaces it', async () => {
    const db = await newDatabase();
    assert.equal((await runCli(['migrate', '--to-postgres', db.url, '--base-dir', source])).code, 0);
    const [row] = await db.query<{ parent_task_id: string; body: string }>(`SELECT parent_task_id, body FROM task_orchestrator.parents WHERE location = 'active' ORDER BY parent_task_id LIMIT 1`);
    const edited = row!.body.replace('build something', 'build something else');
    await db.query(`UPDATE task_orchestrator.parents SET body = $2 WHERE parent_task_id = $1`, [row!.parent_task_id, edited]);
    const conflict = await runCli(['migrate', '--to-postgres', db.url, '--base-dir', source]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, new RegExp(`conflict: tasks/active/${row!.parent_task_id}.json`));
    assert.match(conflict.stdout, /0 new, \d+ already there, 1 conflicts/);
    assert.equal((await db.query<{ body: string }>(`SELECT body FROM task_orchestrator.parents WHERE parent_task_id = $1`, [row!.parent_task_id]))[0]!.body, edited);
    const forced = await runCli(['migrate', '--to-postgres', db.url, '--base-dir', source, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /1 replaced/);
    assert.equal((await db.query<{ body: string }>(`SELECT body FROM task_orchestrator.parents WHERE parent_task_id = $1`, [row!.parent_task_id]))[0]!.body, row!.body);
  });

  test('killed at several points, each way, a rerun completes the copy and the result is equal', async () => {
    const db = await newDatabase();
    const rowsCopied = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM task_orchestrator.parents`).catch(() => [{ n: '0' }]))[0]!.n);
    // Under load a poll may come late: most kills, not all, must land before the end.
    let midway = 0;
    for (const parents of [2, 9, 16]) {
      const killed = await killedWhen(['migrate', '--to-postgres', db.url, '--base-dir', source], async () => (await rowsCopied()) >= parents);
      if (killed && (await rowsCopied()) < 24) midway++;
    }
    assert.ok(midway >= 2, `${midway} of 3 kills landed in the middle of the copy`);
    const finish = await runCli(['migrate', '--to-postgres', db.url, '--base-dir', source, '--json']);
    assert.equal(finish.code, 0, finish.stderr);
    const report = JSON.parse(finish.stdout);
    assert.equal(report.conflictNames.length, 0);
    assert.ok(report.skipped.parents_active + report.skipped.parents_archived >= 16, 'the rerun found what the killed runs copied');

    const target = await newDir();
    const tasks = path.join(target, '.task_orchestrator', 'tasks');
    const filesCopied = async () => (await Promise.all(['active', 'archive'].map((d) => readdir(path.join(tasks, d)).catch(() => [] as string[])))).flat().filter((n) => n.endsWith('.json')).length;
    midway = 0;
    for (const parents of [2, 9, 16]) {
      const killed = await killedWhen(['migrate', '--from-postgres', db.url, '--base-dir', target], async () => (await filesCopied()) >= parents);
      if (killed && (await filesCopied()) < 24) midway++;
    }
    assert.ok(midway >= 2, `${midway} of 3 kills landed in the middle of the copy`);
    const done = await runCli(['migrate', '--from-postgres', db.url, '--base-dir', target]);
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(await taskTree(target), expected);
  });
});

/** Starts the CLI and SIGKILLs it as soon as `ready` says so; false when it ended first. */
async function killedWhen(args: string[], ready: () => Promise<boolean>): Promise<boolean> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let ended = false;
  void exited.then(() => (ended = true));
  try {
    while (!ended) {
      if (await ready()) {
        child.kill('SIGKILL');
        await exited;
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return false;
  } finally {
    if (!ended) child.kill('SIGKILL');
  }
}

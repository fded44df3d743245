import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { removeDir, runCli, tempDir } from '../cli/helpers.js';
import { seedParents } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

test('doctor --fix brings back a corrupted task file from the newest backup holding a good copy, and says so', async () => {
  const dir = await tempDir('orchestrator-doctor-backup-');
  dirs.push(dir);
  await seedParents(dir, 4);
  const active = path.join(dir, '.task_orchestrator', 'tasks', 'active');
  const name = (await readdir(active)).find((n) => n.endsWith('.json'))!;
  const good = await readFile(path.join(active, name), 'utf8');
  assert.equal((await runCli(['backup', '--base-dir', dir])).code, 0);
  await writeFile(path.join(active, name), '{"parent_task_id": "broken');
  // A newer backup holds the corrupted copy: it is passed over for the older, good one.
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal((await runCli(['backup', '--base-dir', dir])).code, 0);
  const fix = await runCli(['doctor', '--fix', '--base-dir', dir]);
  assert.match(fix.stdout, /brought back the copy in the backup backup-\S+ \(taken /, fix.stdout);
  assert.equal(await readFile(path.join(active, name), 'utf8'), good);
  const after = await runCli(['doctor', '--base-dir', dir]);
  assert.equal(after.code, 0, after.stdout);
});

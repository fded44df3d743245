import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { openProject } from '../../src/compose/open-project.js';
import { readSettings } from '../../src/config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { resolveSafetySettings } from '../../src/safety/settings.js';
import { runScheduledWork } from '../../src/transfer/safety-schedule.js';
import { removeDir, tempDir } from '../cli/helpers.js';
import { connectSpawned } from '../mcp/harness.js';
import { freshDatabase, unavailable, type TestDatabase } from '../postgres/db.js';
import { seedParents } from './helpers.js';

const dirs: string[] = [];
const dbs: TestDatabase[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
  for (const db of dbs) await db.drop();
});

const HOUR = 3_600_000;
const backupsIn = async (dir: string) => (await readdir(path.join(dir, '.task_orchestrator', 'backups')).catch(() => [] as string[])).filter((n) => n.startsWith('backup-')).sort();

for (const kind of ['file', 'postgres'] as const) {
  test(`${kind} store: of servers looking at once, one takes the scheduled backup; none again before the interval; keep is applied`, { skip: kind === 'postgres' && unavailable ? `skipped: ${unavailable}` : false }, async () => {
    const env: Record<string, string> = {};
    if (kind === 'postgres') {
      const db = await freshDatabase();
      dbs.push(db);
      env.MCP_TASK_ORCHESTRATOR_DATABASE_URL = db.url;
    }
    // Separate project folders in team mode (as on separate machines), one folder for the file store.
    const folders = await Promise.all([0, 1, 2].map(async () => {
      const dir = await tempDir('orchestrator-schedule-');
      dirs.push(dir);
      return dir;
    }));
    const shared = kind === 'file' ? [folders[0]!, folders[0]!, folders[0]!] : folders;
    await seedParents(shared[0]!, 3, env);
    const projects = await Promise.all(shared.map((dir) => openProject(dir, readSettings(env), silentLogger)));
    try {
      const settings = resolveSafetySettings({ MCP_TASK_ORCHESTRATOR_BACKUP_KEEP: '2' }, {});
      const start = new Date();
      const count = async () => (await Promise.all([...new Set(shared)].map(backupsIn))).flat().length;
      const first = await Promise.all(projects.map((p) => runScheduledWork(p, silentLogger, settings, start)));
      assert.equal(first.filter((r) => r.backup).length, 1, 'exactly one server backed up');
      assert.equal(await count(), 1);
      const soon = await Promise.all(projects.map((p) => runScheduledWork(p, silentLogger, settings, new Date(start.getTime() + 23 * HOUR))));
      assert.equal(soon.filter((r) => r.backup).length, 0, 'not again within 24 h');
      for (const days of [1, 2, 3]) {
        const later = await Promise.all(projects.map((p) => runScheduledWork(p, silentLogger, settings, new Date(start.getTime() + days * 24 * HOUR + 1000))));
        assert.equal(later.filter((r) => r.backup).length, 1, `one more after ${days} day(s)`);
      }
      // Each machine keeps its backups in its own folder, rotated there (the file store: one folder).
      for (const dir of new Set(shared)) assert.ok((await backupsIn(dir)).length <= 2, 'backup.keep = 2: the older ones rotated away');
      if (kind === 'file') assert.equal(await count(), 2);
    } finally {
      for (const p of projects) await p.close();
    }
  });
}

test('a running server takes its first scheduled backup by itself, soon after it starts', async () => {
  const dir = await tempDir('orchestrator-schedule-');
  dirs.push(dir);
  await seedParents(dir, 2);
  const server = await connectSpawned(dir);
  try {
    const deadline = Date.now() + 20_000;
    while ((await backupsIn(dir)).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await backupsIn(dir)).length, 1, server.stderr());
    const status = await server.call('orchestrator_get_status', {});
    assert.equal(status.isError, false, 'tool calls go on');
  } finally {
    await server.close();
  }
});

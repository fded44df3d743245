/**
 * Backup and restore of a whole store at scale, on their own (not part of `npm run bench`): N parents
 * (half active, half archived, ~4 KB each) written as task files, then
 *
 *   backup   the file store into an archive (one snapshot, streamed)
 *   restore  that archive into an empty project (staged tree, fsynced, swapped in)
 *   restore  into PostgreSQL (one transaction), and backup from it (one REPEATABLE READ snapshot),
 *            when a PostgreSQL is found where test/postgres/db.ts looks for one
 *
 *   node --import tsx bench/transfer.ts [parents=10000]
 */
import { NO_KEYS } from '../src/safety/encryption.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from '../src/config.js';
import { serializeTaskFile } from '../src/domain/task-file.js';
import { silentLogger } from '../src/logging/logger.js';
import { layoutFor } from '../src/store/file/layout.js';
import { backupState, restoreState } from '../src/transfer/backup.js';
import { openFileState, openPostgresState } from '../src/transfer/open-state.js';
import { freshDatabase, unavailable } from '../test/postgres/db.js';
import { idMaker, makeParent, rng } from './generate.js';

const parents = Number(process.argv[2] ?? 10_000);
const settings = readSettings({});

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  console.log(`${label}: ${((performance.now() - start) / 1000).toFixed(2)} s`);
  return result;
}

const root = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-bench-transfer-'));
try {
  const source = layoutFor(path.join(root, 'source'));
  await mkdir(source.activeDir, { recursive: true });
  await mkdir(source.archiveDir, { recursive: true });
  const random = rng(20261201);
  const nextId = idMaker(random);
  for (let i = 0; i < parents; i++) {
    const kind = i % 2 ? 'archived' : 'active';
    const parent = makeParent(random, kind, nextId());
    await writeFile(path.join(kind === 'active' ? source.activeDir : source.archiveDir, `${parent.parent_task_id}.json`), serializeTaskFile(parent));
  }
  const files = await openFileState(source, settings, silentLogger);
  const archive = path.join(root, 'all.tar.gz');
  const written = await timed(`backup of ${parents} parents (file store)`, () => backupState(files, archive, { keyring: NO_KEYS }));
  console.log(`  archive: ${(written.bytes / 1e6).toFixed(1)} MB`);
  await files.close();

  const empty = layoutFor(path.join(root, 'target'));
  await mkdir(empty.base, { recursive: true });
  const target = await openFileState(empty, settings, silentLogger);
  await timed(`restore of ${parents} parents into an empty project (file store)`, () => restoreState(target, archive, { layout: empty, keep: 7, dryRun: false, keyring: NO_KEYS }));
  await target.close();

  if (unavailable) console.log(`PostgreSQL: ${unavailable}`);
  else {
    const db = await freshDatabase();
    try {
      const team = layoutFor(path.join(root, 'team'));
      await mkdir(team.base, { recursive: true });
      const database = await openPostgresState(db.url, settings, silentLogger);
      await timed(`restore of ${parents} parents into PostgreSQL`, () => restoreState(database, archive, { layout: team, keep: 7, dryRun: false, keyring: NO_KEYS }));
      await timed(`backup of ${parents} parents (PostgreSQL)`, () => backupState(database, path.join(root, 'db.tar.gz'), { keyring: NO_KEYS }));
      await database.close();
    } finally {
      await db.drop();
    }
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

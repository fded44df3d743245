/**
 * The PostgreSQL store at scale, on its own (not part of `npm run bench`): N parents (half active, half
 * archived, four subtasks each) in a fresh database, then the costs a server pays: opening the store
 * (listings loaded), the first listing with the archive, list and statistics with nothing new, a write
 * by another server followed by a list, a write alone, and the health check.
 *
 *   node --import tsx bench/postgres-listings.ts [parents=10000]
 *
 * Needs PostgreSQL where test/postgres/db.ts finds it (TEST_DATABASE_URL, else 127.0.0.1:5432).
 */
import { silentLogger } from '../src/logging/logger.js';
import { PostgresTaskStore } from '../src/store/postgres/postgres-task-store.js';
import { freshDatabase } from '../test/postgres/db.js';
import { parentWith, subtask } from '../test/unit/builders.js';

const parents = Number(process.argv[2] ?? 10_000);
const options = (url: string) => ({ url, poolSize: 10, statementTimeoutMs: 15_000, lockTimeoutMs: 5_000, idleInTransactionMs: 30_000, logger: silentLogger });

async function timed(label: string, work: () => Promise<unknown>, runs = 50): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  console.log(`${label}: p50 ${times[runs >> 1]!.toFixed(2)} ms, max ${times[runs - 1]!.toFixed(2)} ms`);
}

async function fill(store: PostgresTaskStore): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < parents) {
      const i = next++;
      const id = `task_${i.toString(16).padStart(10, '0')}`;
      const subtasks = [1, 2, 3, 4].map((n) => subtask(`${id}.${n}`, { status: n === 1 ? 'completed' : 'pending', results: n === 1 ? 'r'.repeat(500) : null, description: 'd'.repeat(300) }));
      await store.importParent(parentWith(subtasks, { parent_task_id: id, description: 'desc '.repeat(60), updated_at: new Date(1e12 + i * 1000).toISOString() }), i % 2 ? 'active' : 'archive');
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
}

const db = await freshDatabase();
try {
  const writer = await PostgresTaskStore.open(options(db.url));
  let start = Date.now();
  await fill(writer);
  console.log(`${parents} parents stored in ${Date.now() - start} ms`);
  start = Date.now();
  const reader = await PostgresTaskStore.open(options(db.url));
  console.log(`open (active listings loaded): ${Date.now() - start} ms`);
  start = Date.now();
  await reader.list({ includeArchived: true });
  console.log(`first list with the archive: ${Date.now() - start} ms`);
  await timed('list, nothing new', () => reader.list({ includeArchived: false }));
  await timed('statistics with the archive, nothing new', () => reader.statistics({ includeArchived: true }));
  let n = 0;
  await timed('a write by another server, then list with the archive', async () => {
    await writer.update('task_0000000001', (p) => ({ ...p, context: `c${n++}` }));
    await reader.list({ includeArchived: true });
  });
  await timed('a write alone', () => writer.update('task_0000000003', (p) => ({ ...p, context: `c${n++}` })));
  await timed('health check (every row)', () => reader.health(), 3);
  console.log(`resident memory: ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
  await writer.close();
  await reader.close();
} finally {
  await db.drop();
}

import { readdirSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../app/ports.js';
import { isCode, nodeFs, readRegularFile, readRegularFileSync, tempPathFor, writeFileDurable } from './durable-fs.js';
import type { Layout } from './layout.js';
import { parseOwner } from './lock.js';
import { judgeOwner, judgeTempWriter, tempWriterOf } from './owner.js';

/**
 * Replacing the whole tasks/ folder at once (restore): the new tree is built beside the old one in a
 * staging folder, then swapped in with two renames, with an intent recorded first, so that a crash at
 * any point leaves the old state or the new one, never a mix:
 *
 *   1. build   .task_orchestrator/.restore.<writer>.<hex>.tmp/{tasks,roles}/, every file and folder fsynced
 *   2. record  .task_orchestrator/restore-intent.json naming it (durably): from here on, the new state wins
 *   3. swap    tasks/ -> <staging>/old-tasks/, <staging>/tasks/ -> tasks/
 *   4. roles   each role file written over the project's (atomically, one by one)
 *   5. done    the intent removed, the staging folder (with the old tasks) deleted
 *
 * Before step 2 a crash leaves the old state (the staging folder is removed later, once its writer is
 * dead); from step 2 on, the next open of the store (finishInterruptedRestore) rolls forward.
 */

export const INTENT_FILE = 'restore-intent.json';

interface Intent {
  staging: string;
  at: string;
}

export interface StagedTree {
  /** Folder to fill with tasks/active, tasks/archive, tasks/work, tasks/idempotency. */
  tasksDir: string;
  /** Folder to fill with role files (default_roles.yaml, templates/x.md). */
  rolesDir: string;
}

/** Hook points of a swap, for the kill tests: called after each step. */
export type SwapStep = 'staged' | 'intent' | 'moved-old' | 'swapped' | 'roles' | 'done';

/** Builds a new tasks/ with `fill`, then swaps it in (see above). */
export async function replaceTasksTree(layout: Layout, logger: Logger, fill: (tree: StagedTree) => Promise<void>, onStep?: (step: SwapStep) => void): Promise<void> {
  await finishInterruptedRestore(layout, logger);
  const staging = tempPathFor(path.join(layout.root, 'restore'));
  const tree: StagedTree = { tasksDir: path.join(staging, 'tasks'), rolesDir: path.join(staging, 'roles') };
  for (const dir of ['active', 'archive', 'work', 'idempotency']) await mkdir(path.join(tree.tasksDir, dir), { recursive: true });
  await mkdir(tree.rolesDir, { recursive: true });
  try {
    await fill(tree);
    await syncTree(staging);
    await nodeFs.syncDir(layout.root);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  onStep?.('staged');
  await writeFileDurable(path.join(layout.root, INTENT_FILE), `${JSON.stringify({ staging: path.basename(staging), at: new Date().toISOString() } satisfies Intent)}\n`);
  onStep?.('intent');
  await rollForward(layout, staging, onStep);
}

/**
 * Finishes a restore a crash interrupted after its intent was recorded (rolls forward), and removes
 * staging folders of restores that died before. Run when the store opens and before every restore.
 */
export async function finishInterruptedRestore(layout: Layout, logger: Logger): Promise<'none' | 'finished'> {
  const intent = await readIntent(layout);
  let outcome: 'none' | 'finished' = 'none';
  if (intent) {
    await rollForward(layout, path.join(layout.root, intent.staging));
    logger.warn(`Finished a restore that was interrupted (recorded ${intent.at}): the restored tasks are in place.`);
    outcome = 'finished';
  }
  for (const name of await readdir(layout.root).catch(() => [] as string[])) {
    const writer = name.startsWith('.restore.') ? tempWriterOf(name) : null;
    if (writer && judgeTempWriter(writer) === 'dead') await rm(path.join(layout.root, name), { recursive: true, force: true });
  }
  return outcome;
}

async function rollForward(layout: Layout, staging: string, onStep?: (step: SwapStep) => void): Promise<void> {
  const tasks = path.join(layout.root, 'tasks');
  const staged = path.join(staging, 'tasks');
  if (await exists(staged)) {
    if (await exists(tasks)) await rename(tasks, path.join(staging, 'old-tasks')).catch(ignoreCode('ENOENT'));
    onStep?.('moved-old');
    await rename(staged, tasks);
    await nodeFs.syncDir(layout.root);
    await nodeFs.syncDir(staging).catch(ignoreCode('ENOENT'));
  }
  onStep?.('swapped');
  await copyRoles(path.join(staging, 'roles'), layout.rolesDir);
  onStep?.('roles');
  await unlink(path.join(layout.root, INTENT_FILE)).catch(ignoreCode('ENOENT'));
  await nodeFs.syncDir(layout.root);
  await rm(staging, { recursive: true, force: true });
  onStep?.('done');
}

async function copyRoles(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const target = path.join(to, path.relative(from, file));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileDurable(target, await readRegularFile(file));
  }
}

async function readIntent(layout: Layout): Promise<Intent | null> {
  let text: string;
  try {
    text = readRegularFileSync(path.join(layout.root, INTENT_FILE)).toString('utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return null;
    throw error;
  }
  const intent = JSON.parse(text) as Partial<Intent>;
  if (typeof intent.staging !== 'string' || !intent.staging.startsWith('.restore.') || intent.staging.includes('/')) throw new Error(`${INTENT_FILE} in ${layout.root} does not name a restore's staging folder; remove it by hand.`);
  return { staging: intent.staging, at: String(intent.at) };
}

/** Files fsynced at once: a disk (or its queue) does many in about the time of one. */
const SYNC_PARALLEL = 32;

/** fsync every file and folder of a tree, the deepest first, so the whole tree is on disk before it is named. */
async function syncTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) if (entry.isDirectory()) await syncTree(path.join(dir, entry.name));
  const files = entries.filter((e) => e.isFile()).map((e) => path.join(dir, e.name));
  for (let i = 0; i < files.length; i += SYNC_PARALLEL) await Promise.all(files.slice(i, i + SYNC_PARALLEL).map(syncFile));
  await nodeFs.syncDir(dir);
}

async function syncFile(file: string): Promise<void> {
  const handle = await nodeFs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Locks held by processes that are alive (or cannot be judged from here): a change in progress. A restore
 * of the file store refuses while there is one; a server that is idle holds none.
 */
export function liveLocks(layout: Layout): string[] {
  const held: string[] = [];
  let names: string[];
  try {
    names = readdirSync(layout.locksDir);
  } catch {
    return held;
  }
  for (const name of names.filter((n) => n.endsWith('.lock') && !n.startsWith('.'))) {
    let owner;
    try {
      owner = parseOwner(readRegularFileSync(path.join(layout.locksDir, name)).toString('utf8'));
    } catch {
      continue; // gone meanwhile
    }
    if (!owner || judgeOwner(owner) !== 'dead') held.push(name.slice(0, -'.lock'.length));
  }
  return held;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

function ignoreCode(code: string): (error: unknown) => void {
  return (error) => {
    if (!isCode(error, code)) throw error;
  };
}

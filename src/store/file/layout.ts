import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { nodeFs } from './durable-fs.js';

/** Where everything lives under <base>/.task_orchestrator/ (the same layout as the Python orchestrator v1.3). */
export interface Layout {
  base: string;
  root: string;
  rolesDir: string;
  templatesDir: string;
  activeDir: string;
  archiveDir: string;
  workDir: string;
  locksDir: string;
  logsDir: string;
  journalFile: string;
  /** plan_task idempotency keys, one file each (created when first needed). */
  idempotencyDir: string;
  /** A cache of the index, so a start with thousands of tasks need not read every file first. */
  indexCacheFile: string;
}

export const STORE_FOLDER = '.task_orchestrator';

export function layoutFor(baseDir: string, configDir?: string): Layout {
  const base = path.resolve(baseDir);
  const root = path.join(base, STORE_FOLDER);
  const rolesDir = configDir ? path.resolve(configDir) : path.join(root, 'roles');
  return {
    base,
    root,
    rolesDir,
    templatesDir: path.join(rolesDir, 'templates'),
    activeDir: path.join(root, 'tasks', 'active'),
    archiveDir: path.join(root, 'tasks', 'archive'),
    workDir: path.join(root, 'tasks', 'work'),
    locksDir: path.join(root, 'locks'),
    logsDir: path.join(root, 'logs'),
    journalFile: path.join(root, 'tasks', 'journal.log'),
    idempotencyDir: path.join(root, 'tasks', 'idempotency'),
    indexCacheFile: path.join(root, 'tasks', 'index-cache.json'),
  };
}

/** Creates the folders that are missing; the entries of new folders are synced so they survive power loss. */
export async function ensureLayout(layout: Layout): Promise<void> {
  for (const dir of [layout.rolesDir, layout.templatesDir, layout.activeDir, layout.archiveDir, layout.workDir, layout.locksDir, layout.logsDir]) {
    const firstCreated = await mkdir(dir, { recursive: true });
    if (!firstCreated) continue;
    // Every folder holding a new entry: from the parent of the first one created down to dir's parent.
    const stop = path.dirname(firstCreated);
    for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
      await nodeFs.syncDir(parent);
      if (parent === stop || parent === path.dirname(parent)) break;
    }
  }
}

export function taskFileName(parentTaskId: string): string {
  return `${parentTaskId}.json`;
}

/** A path relative to .task_orchestrator/, with forward slashes, as stored in task files and shown to people. */
export function relativeToRoot(layout: Layout, file: string): string {
  return path.relative(layout.root, file).split(path.sep).join('/');
}

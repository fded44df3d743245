import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import { openProject } from '../../src/compose/open-project.js';
import { silentLogger } from '../../src/logging/logger.js';

/**
 * A project with `count` parents made through the use cases the tools call: every third completed (so
 * archived), every other with a long detailed work (a document), each with an idempotency key.
 */
export async function seedParents(dir: string, count: number, env: Record<string, string> = {}, keyPrefix = 'seed'): Promise<string[]> {
  const project = await openProject(dir, readSettings(env), silentLogger);
  const app = project.orchestrator;
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const plan = await app.planTask({
        description: `Parent number ${i}: build something`,
        idempotency_key: `${keyPrefix}-${i}`,
        subtasks: [
          { task_id: 'a', title: `First step of ${i}`, description: 'do a', specialist_type: 'implementer' },
          { task_id: 'b', title: `Second step of ${i}`, description: 'do b', specialist_type: 'tester', dependencies: ['a'] },
        ],
      });
      const [a, b] = plan.subtasks.map((s) => s.task_id);
      ids.push(plan.parent_task_id);
      if (i % 2 === 0) {
        await app.executeSubtask({ task_id: a! });
        await app.completeSubtask({ task_id: a!, results: `did a of ${i}`, detailed_work: `long work of ${i}. `.repeat(300), next_action: 'continue' });
      }
      if (i % 3 === 0) {
        if (i % 2 !== 0) {
          await app.executeSubtask({ task_id: a! });
          await app.completeSubtask({ task_id: a!, results: `did a of ${i}`, next_action: 'continue' });
        }
        await app.executeSubtask({ task_id: b! });
        await app.completeSubtask({ task_id: b!, results: `did b of ${i}`, next_action: 'continue' });
      }
    }
  } finally {
    await project.close();
  }
  return ids;
}

/** Every file under tasks/active, tasks/archive and tasks/work, by path, with a hash of its bytes. */
export async function taskTree(dir: string): Promise<Map<string, string>> {
  const root = path.join(dir, '.task_orchestrator', 'tasks');
  const out = new Map<string, string>();
  for (const sub of ['active', 'archive', 'work']) {
    const base = path.join(root, sub);
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isFile() || e.name.endsWith('.tmp') || e.name.startsWith('.')) continue;
      const file = path.join(e.parentPath, e.name);
      out.set(path.relative(root, file), createHash('sha256').update(await readFile(file)).digest('hex'));
    }
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

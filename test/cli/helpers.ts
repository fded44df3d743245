/** Running the built CLI against temporary project folders. Run `npm run build` first. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from '../../src/config.js';
import type { ParentTask } from '../../src/domain/model.js';
import { layoutFor, type Layout } from '../../src/store/file/layout.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';

export const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `task-orchestrator <args>` in `cwd` with a clean environment (no project or colour variables unless given). */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MCP_TASK_ORCHESTRATOR_') || key === 'NO_COLOR' || key === 'FORCE_COLOR') delete env[key];
  Object.assign(env, options.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? os.tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function tempDir(prefix = 'orchestrator-cli-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function layoutOf(dir: string): Layout {
  return layoutFor(dir);
}

/** A pid that certainly belonged to a process that has exited. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

export interface SeededProject {
  /** Unfinished: 1 completed, 1 interrupted (its owner is dead), 1 blocked, 1 pending. */
  unfinished: string;
  /** Fully completed, so archived by the server. */
  finished: string;
}

/** A healthy project made through the same use cases the MCP tools call. */
export async function seedProject(dir: string): Promise<SeededProject> {
  const project = await openProject(dir, readSettings({}), silentLogger);
  const app = project.orchestrator;
  try {
    const plan = await app.planTask({
      description: 'Build the login page with password reset',
      context: 'React front end, Express API',
      subtasks: [
        { task_id: 'design', title: 'Design the login flow', description: 'Screens and API calls', specialist_type: 'architect' },
        { task_id: 'build', title: 'Build the login form', description: 'Form and validation', specialist_type: 'implementer', dependencies: ['design'] },
        { task_id: 'deploy', title: 'Deploy to staging', description: 'Ship it', specialist_type: 'implementer', dependencies: ['design'] },
        { task_id: 'test', title: 'Test the login flow', description: 'End to end', specialist_type: 'tester', dependencies: ['build'] },
      ],
    });
    const [design, build, deploy] = plan.subtasks.map((s) => s.task_id);
    await app.executeSubtask({ task_id: design });
    await app.completeSubtask({ task_id: design, results: 'Two screens; POST /login and POST /reset.', artifacts: ['docs/login.md'], next_action: 'continue' });
    await app.executeSubtask({ task_id: deploy });
    await app.completeSubtask({ task_id: deploy, results: 'Waiting for staging credentials', next_action: 'blocked' });
    await app.executeSubtask({ task_id: build });
    const pid = deadPid();
    await project.store.update(plan.parent_task_id, (p) => ({ ...p, subtasks: p.subtasks.map((s) => (s.task_id === build ? { ...s, active_owner: { pid, host: os.hostname(), instance: 'gone' } } : s)) }));
    const done = await app.planTask({ description: 'Write the changelog', subtasks: [{ title: 'Write it', description: 'All changes', specialist_type: 'documenter' }] });
    await app.executeSubtask({ task_id: done.subtasks[0]!.task_id });
    await app.completeSubtask({ task_id: done.subtasks[0]!.task_id, results: 'Changelog written.', next_action: 'complete' });
    return { unfinished: plan.parent_task_id, finished: done.parent_task_id };
  } finally {
    await project.close();
  }
}

export async function readJson(file: string): Promise<any> {
  return JSON.parse(await readFile(file, 'utf8'));
}

export async function writeText(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

/** A Python v1 task file, as the Python orchestrator wrote it. */
export function pythonParent(id: string, statuses: ParentTask['subtasks'][number]['status'][], fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '1.0',
    parent_task_id: id,
    description: `Python task ${id}`,
    complexity: 'moderate',
    context: 'from Python',
    created_at: '2025-05-30T10:15:00.123456',
    subtasks: statuses.map((status, i) => ({
      task_id: `implementer_${id.slice(-4)}${i}`,
      title: `Step ${i + 1}`,
      description: `Step ${i + 1} of ${id}`,
      specialist_type: 'implementer',
      dependencies: [],
      estimated_effort: '1 hour',
      status,
      results: status === 'completed' ? `done ${i + 1}` : null,
      artifacts: [],
      created_at: '2025-05-30T10:15:00.200000',
      completed_at: status === 'completed' ? '2025-05-30T11:00:00.000000' : null,
    })),
    ...fields,
  };
}

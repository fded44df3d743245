/**
 * Corrupted task files: truncated JSON, garbage bytes, an empty file, JSON of the wrong shape, a newer
 * format version, and a file whose name is not its parent_task_id. The project still opens; status and
 * session report each file with its path and reason; the log names them; operations on those parents
 * fail with STORE_CORRUPT / UNSUPPORTED_VERSION; the files stay byte for byte as they were; every
 * other parent keeps working. Checked in process and through the real server over stdio.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { StoreProblem } from '../../src/app/ports.js';
import { readSettings } from '../../src/config.js';
import { OrchestratorError } from '../../src/domain/errors.js';
import { serializeTaskFile } from '../../src/domain/task-file.js';
import type { ParentTask } from '../../src/domain/model.js';
import { layoutFor, type Layout } from '../../src/store/file/layout.js';
import { FileLogger, silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { ROOT, seededRandom, tempDir } from './helpers.js';

function validParent(id: string, fields: Partial<ParentTask> = {}): ParentTask {
  return {
    version: '2.0',
    parent_task_id: id,
    description: `Parent ${id}`,
    complexity: 'moderate',
    context: '',
    created_at: '2025-06-01T12:00:00.000Z',
    subtasks: [{ task_id: `${id}.1`, title: 'Step one', description: '', specialist_type: 'implementer', dependencies: [], estimated_effort: '', status: 'pending', results: null, artifacts: [], created_at: '2025-06-01T12:00:00.000Z', completed_at: null }],
    ...fields,
  };
}

interface BadFile {
  id: string;
  content: Buffer;
  kind: StoreProblem['kind'];
  reason: RegExp;
  code: 'STORE_CORRUPT' | 'UNSUPPORTED_VERSION';
}

function badFiles(): BadFile[] {
  const whole = serializeTaskFile(validParent('task_trunc00001'));
  const random = seededRandom(7);
  const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => (i % 64 === 0 ? 0 : Math.floor(random() * 256))));
  return [
    { id: 'task_trunc00001', content: Buffer.from(whole.slice(0, Math.floor(whole.length / 2))), kind: 'corrupt', reason: /JSON/, code: 'STORE_CORRUPT' },
    { id: 'task_garbage001', content: garbage, kind: 'corrupt', reason: /JSON/, code: 'STORE_CORRUPT' },
    { id: 'task_empty00001', content: Buffer.alloc(0), kind: 'corrupt', reason: /empty/, code: 'STORE_CORRUPT' },
    { id: 'task_shape00001', content: Buffer.from(JSON.stringify({ version: '2.0', parent_task_id: 'task_shape00001', description: 'x', created_at: 'now', subtasks: 'not a list' }, null, 2)), kind: 'corrupt', reason: /subtasks/, code: 'STORE_CORRUPT' },
    { id: 'task_future0001', content: Buffer.from(serializeTaskFile(validParent('task_future0001')).replace('"version": "2.0"', '"version": "3.0"')), kind: 'unsupported_version', reason: /3\.0/, code: 'UNSUPPORTED_VERSION' },
    { id: 'task_misnamed01', content: Buffer.from(serializeTaskFile(validParent('task_elsewhere1'))), kind: 'misplaced', reason: /task_elsewhere1/, code: 'STORE_CORRUPT' },
  ];
}

async function placeBadFiles(layout: Layout): Promise<BadFile[]> {
  const files = badFiles();
  assert.ok(files.find((f) => f.id === 'task_future0001')!.content.includes('"version": "3.0"'));
  for (const file of files) await writeFile(path.join(layout.activeDir, `${file.id}.json`), file.content);
  return files;
}

async function assertUnchanged(layout: Layout, files: BadFile[]): Promise<void> {
  for (const file of files) {
    const now = await readFile(path.join(layout.activeDir, `${file.id}.json`));
    assert.ok(now.equals(file.content), `${file.id}.json was changed`);
  }
}

function assertReported(problems: StoreProblem[], files: BadFile[], where: string): void {
  assert.equal(problems.length, files.length, `${where}: ${JSON.stringify(problems, null, 1)}`);
  for (const file of files) {
    const problem = problems.find((p) => p.file === `tasks/active/${file.id}.json`);
    assert.ok(problem, `${where}: ${file.id}.json is not reported`);
    assert.equal(problem.kind, file.kind, `${where}: kind of ${file.id}`);
    assert.match(problem.reason, file.reason, `${where}: reason for ${file.id}`);
    assert.ok(problem.action.length > 0, `${where}: ${file.id} needs an action`);
  }
}

const failsWith = (code: string) => (error: unknown) => error instanceof OrchestratorError && error.code === code;

describe('corrupted task files', () => {
  test('in process: reported, logged, refused with their code, never changed; the rest keeps working', async () => {
    const project = await tempDir('corrupt');
    const layout = layoutFor(project.dir);
    try {
      const first = await openProject(project.dir, readSettings({}), silentLogger);
      const healthy = await first.orchestrator.planTask({ description: 'A healthy parent', subtasks: [{ title: 'First', specialist_type: 'architect' }, { title: 'Second', specialist_type: 'implementer' }] });
      await first.close();
      const files = await placeBadFiles(layout);

      const logger = new FileLogger({ stderr: false });
      const opened = await openProject(project.dir, readSettings({}), logger);
      const { orchestrator } = opened;
      assertReported((await orchestrator.getStatus({})).storage_problems, files, 'get_status');
      const session = await orchestrator.initializeSession();
      assertReported(session.storage_problems, files, 'initialize_session');
      assert.deepEqual(session.active_tasks.map((t) => t.parent_task_id), [healthy.parent_task_id]);

      for (const file of files) {
        const taskId = `${file.id}.1`;
        await assert.rejects(orchestrator.executeSubtask({ task_id: taskId, parent_task_id: file.id }), failsWith(file.code), `execute on ${file.id}`);
        await assert.rejects(orchestrator.completeSubtask({ task_id: taskId, parent_task_id: file.id, results: 'x' }), failsWith(file.code), `complete on ${file.id}`);
        await assert.rejects(orchestrator.synthesizeResults({ parent_task_id: file.id }), failsWith(file.code), `synthesize on ${file.id}`);
        await assert.rejects(opened.store.read(file.id), failsWith(file.code));
      }
      // Without parent_task_id the subtask id still leads to its file, and to the same refusal.
      await assert.rejects(orchestrator.executeSubtask({ task_id: 'task_trunc00001.1' }), failsWith('STORE_CORRUPT'));
      await assert.rejects(orchestrator.executeSubtask({ task_id: 'task_future0001.1' }), failsWith('UNSUPPORTED_VERSION'));

      // Every other parent keeps working, to the end.
      for (const subtask of healthy.subtasks) {
        await orchestrator.executeSubtask({ task_id: subtask.task_id });
        await orchestrator.completeSubtask({ task_id: subtask.task_id, results: `done ${subtask.title}` });
      }
      assert.equal((await orchestrator.getStatus({ parent_task_id: healthy.parent_task_id })).counts.completed, 2);
      const another = await orchestrator.planTask({ description: 'Planned beside broken files', subtasks: [{ title: 'Only', specialist_type: 'tester' }] });
      await orchestrator.executeSubtask({ task_id: another.subtasks[0]!.task_id });
      await opened.close();
      await logger.close();
      await assertUnchanged(layout, files);

      const log = await readFile(path.join(layout.logsDir, 'orchestrator.log'), 'utf8');
      for (const file of files) assert.ok(log.includes(`${file.id}.json`), `logs/orchestrator.log does not mention ${file.id}.json:\n${log}`);

      // A later start (from the index cache) still reports them, and still changes nothing.
      const again = await openProject(project.dir, readSettings({}), silentLogger);
      assertReported((await again.orchestrator.getStatus({})).storage_problems, files, 'get_status after a restart');
      await again.close();
      await assertUnchanged(layout, files);
    } finally {
      await project.remove();
    }
  });

  test('through the real server over stdio: logged at start-up to logs/orchestrator.log, reported, refused, unchanged', { timeout: 60_000 }, async () => {
    const project = await tempDir('corrupt-server');
    const layout = layoutFor(project.dir);
    const clients: Client[] = [];
    /** `task-orchestrator serve` from the current sources, as an MCP client starts it. */
    const startServer = async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts'), 'serve'],
        cwd: ROOT, // so that tsx resolves; the project comes from the environment
        env: { PATH: process.env.PATH ?? '', MCP_TASK_ORCHESTRATOR_BASE_DIR: project.dir },
        stderr: 'pipe',
      });
      const client = new Client({ name: 'corruption-test', version: '1.0.0' });
      clients.push(client);
      await client.connect(transport);
      return async (name: string, args: Record<string, unknown>) => {
        const reply = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text?: string }[]; structuredContent?: any };
        return { client, isError: reply.isError === true, text: reply.content.map((c) => c.text ?? '').join('\n'), data: reply.structuredContent };
      };
    };
    try {
      await mkdir(layout.activeDir, { recursive: true });
      const files = await placeBadFiles(layout);

      // First server: only looks. What it found at start-up must be in the log file, not only on stderr.
      let call = await startServer();
      const status = await call('orchestrator_get_status', {});
      assert.equal(status.isError, false, status.text);
      assertReported(status.data.storage_problems as StoreProblem[], files, 'orchestrator_get_status');
      const session = await call('orchestrator_initialize_session', {});
      assertReported(session.data.storage_problems as StoreProblem[], files, 'orchestrator_initialize_session');
      await status.client.close();
      const log = await readFile(path.join(layout.logsDir, 'orchestrator.log'), 'utf8').catch(() => '');
      for (const file of files) assert.ok(log.includes(`${file.id}.json`), `logs/orchestrator.log does not mention ${file.id}.json, found at start-up:\n${log}`);
      await assertUnchanged(layout, files);

      // Second server: refuses to work on them, keeps working on the rest.
      call = await startServer();
      for (const file of files) {
        const reply = await call('orchestrator_execute_subtask', { task_id: `${file.id}.1`, parent_task_id: file.id });
        assert.equal(reply.isError, true);
        assert.ok(reply.text.includes(file.code), `execute on ${file.id}: ${reply.text}`);
      }
      const plan = await call('orchestrator_plan_task', { description: 'Still works', subtasks: [{ title: 'Only', specialist_type: 'implementer' }] });
      assert.equal(plan.isError, false, plan.text);
      const done = await call('orchestrator_complete_subtask', { task_id: plan.data.subtasks[0].task_id, results: 'done' });
      assert.equal(done.isError, false, done.text);
      assert.equal(done.data.parent_completed, true);
      assertReported((await call('orchestrator_get_status', {})).data.storage_problems as StoreProblem[], files, 'after the work');
      await plan.client.close();
      await assertUnchanged(layout, files);
    } finally {
      for (const client of clients) await client.close().catch(() => undefined);
      await project.remove();
    }
  });
});

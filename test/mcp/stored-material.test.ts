import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inProcessProject, snapshot } from './harness.js';

/** What complete_subtask and execute_subtask keep, refuse and never lose, seen on disk. */
describe('stored material: bounds, repeats, documents, checks before writing', () => {
  const session = inProcessProject();

  const plan = async () => {
    const reply = await session.mcp.call('orchestrator_plan_task', { description: 'Harden the importer', subtasks: [{ title: 'Write the parser', specialist_type: 'implementer' }] });
    assert.equal(reply.isError, false, reply.text);
    return { parent: reply.data.parent_task_id as string, only: (reply.data.execution_order as string[])[0]! };
  };

  test('an oversized field or text that is not valid Unicode is refused by name, and nothing changes', async () => {
    const { only } = await plan();
    const before = await snapshot(session.dir);
    const calls: [string, Record<string, unknown>, RegExp][] = [
      ['orchestrator_plan_task', { description: 'x'.repeat(5_500_000), subtasks: [{ title: 'A', specialist_type: 'architect' }] }, /^INVALID_INPUT: description is 5,500,000 characters long; at most 10,000/],
      ['orchestrator_complete_subtask', { task_id: only, results: 'r'.repeat(10_001) }, /^INVALID_INPUT: results is 10,001 characters long.*detailed_work/],
      ['orchestrator_complete_subtask', { task_id: only, summary: 'Parsed', detailed_work: `${'long '.repeat(500)}\uD83D` }, /^INVALID_INPUT: detailed_work has an unpaired UTF-16 surrogate/],
      ['orchestrator_complete_subtask', { task_id: only, summary: 'Parsed', artifacts: Array.from({ length: 201 }, (_, i) => `f${i}.ts`) }, /^INVALID_INPUT: artifacts has 201 entries/],
    ];
    for (const [tool, args, expected] of calls) {
      const reply = await session.mcp.call(tool, args);
      assert.equal(reply.isError, true, tool);
      assert.match(reply.text, expected);
    }
    assert.deepEqual(await snapshot(session.dir), before);
  });

  test('every needs_revision with detailed_work keeps one current document and references each earlier one: no orphans', async () => {
    const { parent, only } = await plan();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const reply = await session.mcp.call('orchestrator_complete_subtask', { task_id: only, summary: `Attempt ${attempt} failed`, detailed_work: `attempt ${attempt} `.repeat(400), next_action: 'needs_revision' });
      assert.equal(reply.isError, false, reply.text);
    }
    const retry = await session.mcp.call('orchestrator_complete_subtask', { task_id: only, summary: 'Attempt 3 failed', detailed_work: 'attempt 3 '.repeat(400), next_action: 'needs_revision' });
    assert.equal(retry.data.already_recorded, true, 'the same call again is a repeat and writes nothing');
    const stored = JSON.parse(await readFile(path.join(session.dir, '.task_orchestrator/tasks/active', `${parent}.json`), 'utf8')).subtasks[0];
    const referenced = [...stored.earlier_work_files, stored.detailed_work_file].map((f: string) => path.basename(f)).sort();
    const onDisk = (await readdir(path.join(session.dir, '.task_orchestrator/tasks/work', parent))).sort();
    assert.deepEqual(onDisk, referenced);
    assert.equal(onDisk.length, 3);
    assert.match(await readFile(path.join(session.dir, '.task_orchestrator', stored.earlier_work_files[0]), 'utf8'), /^attempt 1 /);
  });

  test('a repeated completion that brings new detailed work is refused by name, not answered "already recorded"', async () => {
    const { only } = await plan();
    await session.mcp.call('orchestrator_complete_subtask', { task_id: only, summary: 'Parser done', detailed_work: 'v1 '.repeat(1000) });
    const before = await snapshot(session.dir);
    const reply = await session.mcp.call('orchestrator_complete_subtask', { task_id: only, summary: 'Parser done', detailed_work: 'v2 '.repeat(1000), artifacts: ['src/parser.ts'] });
    assert.equal(reply.isError, true);
    assert.match(reply.text, /^INVALID_TRANSITION: .*different detailed_work, artifacts/);
    assert.deepEqual(await snapshot(session.dir), before);
  });

  test('execute_subtask on a subtask whose dependency names no subtask refuses before writing', async () => {
    const { parent, only } = await plan();
    const file = path.join(session.dir, '.task_orchestrator/tasks/active', `${parent}.json`);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    stored.subtasks[0].dependencies = ['architect_gone1'];
    await writeFile(file, JSON.stringify(stored));
    const before = await snapshot(session.dir);
    const reply = await session.mcp.call('orchestrator_execute_subtask', { task_id: only });
    assert.match(reply.text, /^UNMET_DEPENDENCIES: .*architect_gone1, which is not a subtask/);
    assert.deepEqual(await snapshot(session.dir), before);
    const forced = await session.mcp.call('orchestrator_execute_subtask', { task_id: only, force: true });
    assert.equal(forced.isError, false, forced.text);
  });
});

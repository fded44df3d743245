import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTaskFile, serializeTaskFile } from '../../src/domain/task-file.js';
import type { Check } from '../../src/domain/errors.js';
import type { ParentTask } from '../../src/domain/model.js';
import { interruptedSubtasks, nextRecommended, startSubtask } from '../../src/domain/lifecycle.js';
import { NOW, parentWith, subtask } from './builders.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/python-v1/${name}`, import.meta.url), 'utf8');
const PYTHON_V1 = fixture('task_1a2b3c4d.json');
const PYTHON_V1_DONE = fixture('task_9f8e7d6c.json');

function parsed(text: string): ParentTask {
  const result = parseTaskFile(text);
  if (!result.ok) assert.fail(`expected the file to parse, got ${result.code}: ${result.message}`);
  return result.value;
}

function refused(result: Check<ParentTask>): { code: string; message: string } {
  if (result.ok) assert.fail('expected the file to be refused');
  return result;
}

describe('parseTaskFile with files the Python orchestrator wrote', () => {
  const parent = parsed(PYTHON_V1);

  test('loads the parent fields as written', () => {
    assert.equal(parent.version, '1.0');
    assert.equal(parent.parent_task_id, 'task_1a2b3c4d');
    assert.equal(parent.complexity, 'moderate');
    assert.equal(parent.created_at, '2025-05-30T10:15:00.123456');
  });

  test('loads every subtask with its status, results and naive timestamps unchanged', () => {
    assert.deepEqual(parent.subtasks.map((s) => [s.task_id, s.status]), [
      ['architect_1a2b3c', 'completed'],
      ['implementer_4d5e6f', 'pending'],
      ['documenter_7a8b9c', 'active'],
    ]);
    assert.equal(parent.subtasks[0]!.completed_at, '2025-05-30T10:42:17.654321');
    assert.match(parent.subtasks[0]!.results ?? '', /Sliding-window limiter/);
    assert.equal(parent.subtasks[1]!.results, null);
    assert.deepEqual(parent.subtasks[1]!.dependencies, ['architect_1a2b3c']);
  });

  test('derives a title from the description when the file has none', () => {
    assert.equal(parent.title, 'Add rate limiting to the public REST API');
  });

  test('loads a Python file whose subtasks are all completed', () => {
    const done = parsed(PYTHON_V1_DONE);
    assert.ok(done.subtasks.every((s) => s.status === 'completed'));
    assert.equal(done.status, undefined);
  });

  test('fills defaults for optional v1 values: null context, null effort, missing results and artifacts', () => {
    const raw = JSON.parse(PYTHON_V1);
    raw.context = null;
    raw.subtasks[1].estimated_effort = null;
    delete raw.subtasks[1].results;
    delete raw.subtasks[1].artifacts;
    const p = parsed(JSON.stringify(raw));
    assert.equal(p.context, '');
    assert.equal(p.subtasks[1]!.estimated_effort, '');
    assert.equal(p.subtasks[1]!.results, null);
    assert.deepEqual(p.subtasks[1]!.artifacts, []);
  });

  test('treats a file without a version as version 1.0', () => {
    const raw = JSON.parse(PYTHON_V1);
    delete raw.version;
    assert.equal(parsed(JSON.stringify(raw)).version, '1.0');
  });
});

describe('parseTaskFile refusals', () => {
  test('refuses an empty file with STORE_CORRUPT "the file is empty"', () => {
    const error = refused(parseTaskFile('  \n'));
    assert.equal(error.code, 'STORE_CORRUPT');
    assert.equal(error.message, 'the file is empty');
  });

  test('refuses garbage with STORE_CORRUPT "not valid JSON"', () => {
    const error = refused(parseTaskFile('{"parent_task_id": "task_1", '));
    assert.equal(error.code, 'STORE_CORRUPT');
    assert.match(error.message, /^not valid JSON/);
  });

  test('refuses a JSON value that is not a task file with STORE_CORRUPT', () => {
    const error = refused(parseTaskFile('[1, 2, 3]'));
    assert.equal(error.code, 'STORE_CORRUPT');
    assert.match(error.message, /^not a task file/);
  });

  test('names the missing field of a wrong-shaped file', () => {
    const raw = JSON.parse(PYTHON_V1);
    delete raw.description;
    assert.match(refused(parseTaskFile(JSON.stringify(raw))).message, /description/);
  });

  test('names the path of a bad subtask status', () => {
    const raw = JSON.parse(PYTHON_V1);
    raw.subtasks[2].status = 'done';
    const error = refused(parseTaskFile(JSON.stringify(raw)));
    assert.equal(error.code, 'STORE_CORRUPT');
    assert.match(error.message, /subtasks\.2\.status/);
  });

  test('refuses a parent_task_id that could name another folder', () => {
    const raw = JSON.parse(PYTHON_V1);
    raw.parent_task_id = '../../etc';
    const error = refused(parseTaskFile(JSON.stringify(raw)));
    assert.equal(error.code, 'STORE_CORRUPT');
    assert.match(error.message, /parent_task_id/);
  });

  test('refuses a newer major version with UNSUPPORTED_VERSION', () => {
    const raw = JSON.parse(PYTHON_V1);
    raw.version = '3.0';
    const error = refused(parseTaskFile(JSON.stringify(raw)));
    assert.equal(error.code, 'UNSUPPORTED_VERSION');
    assert.match(error.message, /3\.0/);
  });

  test('accepts a newer minor version of the current format', () => {
    const raw = JSON.parse(PYTHON_V1);
    raw.version = '2.7';
    assert.equal(parsed(JSON.stringify(raw)).version, '2.7');
  });
});

describe('serializeTaskFile', () => {
  test('writes version 2.0, pretty-printed, ending with a newline', () => {
    const text = serializeTaskFile(parsed(PYTHON_V1));
    assert.equal(JSON.parse(text).version, '2.0');
    assert.ok(text.startsWith('{\n  "version": "2.0"'));
    assert.ok(text.endsWith('}\n'));
  });

  test('keeps unknown top-level and subtask fields through parse and serialize', () => {
    const raw = JSON.parse(PYTHON_V1);
    raw.written_by = { tool: 'future-version', flags: [1, 2] };
    raw.subtasks[0].priority = 'high';
    const back = JSON.parse(serializeTaskFile(parsed(JSON.stringify(raw))));
    assert.deepEqual(back.written_by, { tool: 'future-version', flags: [1, 2] });
    assert.equal(back.subtasks[0].priority, 'high');
  });

  test('round-trips a parent written by this server unchanged', () => {
    const parent = parentWith(
      [subtask('task_0123456789.1', { status: 'blocked', blocked_reason: 'why', revision_notes: ['n1'], active_owner: null, handle: 'a', updated_at: '2025-06-01T12:00:00.000Z' })],
      { title: 'Build', updated_at: '2025-06-01T12:00:00.000Z', revision: 3 },
    );
    assert.deepEqual(parsed(serializeTaskFile(parent)), parent);
  });

  test('a Python file re-read after serializing loads as the current format with the same subtasks', () => {
    const first = parsed(PYTHON_V1);
    const second = parsed(serializeTaskFile(first));
    assert.equal(second.version, '2.0');
    assert.deepEqual(second.subtasks, first.subtasks);
  });
});

describe('Python files keep working with the lifecycle', () => {
  const parent = parsed(PYTHON_V1);

  test('an active subtask without a recorded owner counts as interrupted', () => {
    assert.deepEqual(interruptedSubtasks(parent, () => true).map((s) => s.task_id), ['documenter_7a8b9c']);
  });

  test('the pending subtask whose dependency is completed is recommended next', () => {
    assert.equal(nextRecommended(parent)?.task_id, 'implementer_4d5e6f');
  });

  test('the pending subtask can be started without force', () => {
    const started = startSubtask(parent, 'implementer_4d5e6f', { force: false, owner: { pid: 1, host: 'h', instance: 'i' }, now: NOW });
    assert.ok(started.ok);
  });
});

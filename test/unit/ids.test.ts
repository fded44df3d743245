import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkTaskId, isValidTaskId, newParentTaskId, subtaskIdFor, truncate } from '../../src/domain/ids.js';

describe('checkTaskId', () => {
  for (const bad of ['', '   ', '../x', 'a/b', 'a\\b', '..', 'a..b', '.hidden', '-flag', 'has space', 'x'.repeat(129)]) {
    test(`rejects ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 8)}… (${bad.length} chars)` : bad)} with INVALID_TASK_ID`, () => {
      const result = checkTaskId(bad);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.code, 'INVALID_TASK_ID');
    });
  }

  for (const bad of [undefined, null, 42]) {
    test(`rejects a non-string (${String(bad)}) with INVALID_TASK_ID`, () => {
      assert.equal(checkTaskId(bad).ok, false);
    });
  }

  for (const good of ['task_abc.1', 'architect_1a2b3c', 'task_1a2b3c4d', 'task_0123456789.12', 'x'.repeat(128)]) {
    test(`accepts ${JSON.stringify(good.length > 20 ? `${good.slice(0, 8)}… (${good.length} chars)` : good)}`, () => {
      assert.deepEqual(checkTaskId(good), { ok: true, value: good });
    });
  }

  test('trims surrounding whitespace', () => {
    assert.deepEqual(checkTaskId('  task_abc.1 \n'), { ok: true, value: 'task_abc.1' });
  });

  test('names the field and the bad value in the message', () => {
    const result = checkTaskId('a/b', 'parent_task_id');
    assert.ok(!result.ok);
    assert.match(result.message, /parent_task_id "a\/b" is not a task id/);
    assert.deepEqual(result.data, { parent_task_id: 'a/b' });
  });
});

describe('id helpers', () => {
  test('isValidTaskId agrees with checkTaskId on a path traversal', () => {
    assert.equal(isValidTaskId('..'), false);
    assert.equal(isValidTaskId('task_abc.1'), true);
  });

  test('newParentTaskId is "task_" and the random hex it is given', () => {
    const id = newParentTaskId((chars) => 'f'.repeat(chars));
    assert.equal(id, 'task_ffffffffff');
    assert.ok(isValidTaskId(id));
  });

  test('subtaskIdFor appends the position to the parent id', () => {
    assert.equal(subtaskIdFor('task_abc', 3), 'task_abc.3');
  });

  test('truncate keeps short text and marks cut text with an ellipsis within the limit', () => {
    assert.equal(truncate('short', 10), 'short');
    assert.equal(truncate('abcdefghijkl', 5), 'abcd…');
  });
});

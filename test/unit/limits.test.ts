import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS, textProblem } from '../../src/domain/limits.js';
import { validatePlan } from '../../src/domain/plan.js';

const ROLES = new Set(['architect', 'implementer']);

test('text within its bound and well formed passes; emoji (a surrogate pair) is fine', () => {
  assert.equal(textProblem('title', 'Ship it 🚀', 300), null);
  assert.equal(textProblem('title', 'x'.repeat(300), 300), null);
});

test('text over its bound is refused naming the field, the length, the bound and the hint', () => {
  assert.equal(textProblem('description', 'x'.repeat(10_001), 10_000, 'Keep it short.'), 'description is 10,001 characters long; at most 10,000 are accepted. Keep it short.');
});

test('an unpaired surrogate, high or low, is refused with its position', () => {
  assert.match(textProblem('detailed_work', 'ok \uD83D then', 100)!, /detailed_work has an unpaired UTF-16 surrogate \(\\ud83d\) at character 3/);
  assert.match(textProblem('detailed_work', 'x\uDE80', 100)!, /\\ude80\) at character 1/);
});

test('a plan reports every oversized or ill-formed field at once, by its place in the plan', () => {
  const check = validatePlan(
    {
      description: 'Goal',
      subtasks: [
        { title: 't'.repeat(LIMITS.title + 1), specialist_type: 'architect' },
        { title: 'Fine', description: 'bad \uD800 text', specialist_type: 'implementer', estimated_effort: 'e'.repeat(LIMITS.estimatedEffort + 1) },
      ],
    },
    ROLES,
    'task_0000000000',
    '2026-01-01T00:00:00.000Z',
  );
  assert.equal(check.ok, false);
  if (check.ok) return;
  assert.equal(check.code, 'INVALID_INPUT');
  assert.match(check.message, /subtasks\[0\]\.title is 301 characters long; at most 300/);
  assert.match(check.message, /subtasks\[1\]\.description has an unpaired UTF-16 surrogate/);
  assert.match(check.message, /subtasks\[1\]\.estimated_effort is 201 characters/);
});

test('the description and context of a plan are bounded', () => {
  const long = validatePlan({ description: 'd'.repeat(LIMITS.description + 1), subtasks: [{ title: 'A', specialist_type: 'architect' }] }, ROLES, 'task_0000000000', 'now');
  assert.ok(!long.ok && /description is 10,001 characters long/.test(long.message));
  const context = validatePlan({ description: 'Goal', context: 'c'.repeat(LIMITS.context + 1), subtasks: [{ title: 'A', specialist_type: 'architect' }] }, ROLES, 'task_0000000000', 'now');
  assert.ok(!context.ok && /context is 20,001 characters long/.test(context.message));
});

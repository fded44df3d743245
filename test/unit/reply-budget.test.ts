import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countThatFits, jsonSize } from '../../src/app/reply-budget.js';

test('countThatFits takes items from the front while their JSON fits the budget', () => {
  const items = ['a'.repeat(8), 'b'.repeat(8), 'c'.repeat(8)]; // 10 characters each as JSON
  assert.equal(countThatFits(items, 25), 2);
  assert.equal(countThatFits(items, 30), 3);
  assert.equal(countThatFits([], 30), 0);
});

test('one item larger than the budget is still taken, so paging always moves on', () => {
  assert.equal(countThatFits(['x'.repeat(100), 'y'], 10), 1);
});

test('jsonSize is the length of the JSON text', () => {
  assert.equal(jsonSize({ a: 1 }), 7);
});

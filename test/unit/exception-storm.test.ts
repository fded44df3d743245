import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExceptionStorm } from '../../src/cli/host-watch.js';

test('a few uncaught errors are survived; more than the limit within the window is a storm', () => {
  const storm = new ExceptionStorm(20, 1_000);
  for (let i = 0; i < 20; i++) assert.equal(storm.record(10_000 + i), false);
  assert.equal(storm.record(10_020), true);
});

test('errors spread over time never make a storm', () => {
  const storm = new ExceptionStorm(20, 1_000);
  for (let i = 0; i < 200; i++) assert.equal(storm.record(i * 100), false);
});

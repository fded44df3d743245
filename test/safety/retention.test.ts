import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseParentsToPrune, RETENTION_OFF, type RetentionCandidate } from '../../src/domain/retention.js';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

/** Archived parents completed 1, 2, ... 10 days ago (task_01 the newest), and two active ones, one very old. */
function parents(): RetentionCandidate[] {
  const archived = Array.from({ length: 10 }, (_, i) => ({ parent_task_id: `task_${String(i + 1).padStart(2, '0')}`, location: 'archive' as const, status: 'completed' as const, completed_at: daysAgo(i + 1), updated_at: daysAgo(i + 1) }));
  const active = [
    { parent_task_id: 'task_active_old', location: 'active' as const, status: 'active' as const, completed_at: null, updated_at: daysAgo(400) },
    { parent_task_id: 'task_active_done', location: 'active' as const, status: 'completed' as const, completed_at: daysAgo(300), updated_at: daysAgo(300) },
  ];
  return [...active, ...archived.reverse()];
}

const ids = (choices: { parent_task_id: string }[]) => choices.map((c) => c.parent_task_id);

describe('retention policy', () => {
  test('off (the default): nothing', () => {
    assert.deepEqual(chooseParentsToPrune(parents(), RETENTION_OFF, NOW), []);
  });

  test('by age: exactly those completed more than maxAgeDays ago, oldest first', () => {
    const chosen = chooseParentsToPrune(parents(), { maxAgeDays: 7, maxCount: null }, NOW);
    assert.deepEqual(ids(chosen), ['task_10', 'task_09', 'task_08']);
    assert.deepEqual(chosen[0], { parent_task_id: 'task_10', at: daysAgo(10), reasons: ['age'] });
  });

  test('exactly maxAgeDays old is kept (strictly older goes)', () => {
    assert.deepEqual(ids(chooseParentsToPrune(parents(), { maxAgeDays: 10, maxCount: null }, NOW)), []);
    assert.deepEqual(ids(chooseParentsToPrune(parents(), { maxAgeDays: 9, maxCount: null }, NOW)), ['task_10']);
  });

  test('by count: all but the newest maxCount, oldest first', () => {
    assert.deepEqual(ids(chooseParentsToPrune(parents(), { maxAgeDays: null, maxCount: 6 }, NOW)), ['task_10', 'task_09', 'task_08', 'task_07']);
    assert.deepEqual(ids(chooseParentsToPrune(parents(), { maxAgeDays: null, maxCount: 10 }, NOW)), []);
    assert.equal(chooseParentsToPrune(parents(), { maxAgeDays: null, maxCount: 0 }, NOW).length, 10);
  });

  test('both: the union, each with the rules that chose it', () => {
    const chosen = chooseParentsToPrune(parents(), { maxAgeDays: 8, maxCount: 5 }, NOW);
    assert.deepEqual(
      chosen.map((c) => [c.parent_task_id, c.reasons.join('+')]),
      [
        ['task_10', 'age+count'],
        ['task_09', 'age+count'],
        ['task_08', 'count'],
        ['task_07', 'count'],
        ['task_06', 'count'],
      ],
    );
  });

  test('never an active parent, even a completed one still in tasks/active/, whatever the policy', () => {
    const chosen = ids(chooseParentsToPrune(parents(), { maxAgeDays: 0, maxCount: 0 }, NOW));
    assert.equal(chosen.length, 10);
    assert.ok(!chosen.some((id) => id.startsWith('task_active')));
    const reopened = [{ parent_task_id: 'task_reopened', location: 'archive' as const, status: 'active' as const, updated_at: daysAgo(100) }];
    assert.deepEqual(chooseParentsToPrune(reopened, { maxAgeDays: 1, maxCount: 0 }, NOW), []);
  });

  test('completed_at is the time judged; updated_at when there is none; an unreadable time is never pruned', () => {
    const list: RetentionCandidate[] = [
      { parent_task_id: 'a', location: 'archive', completed_at: daysAgo(30), updated_at: daysAgo(1) },
      { parent_task_id: 'b', location: 'archive', completed_at: null, updated_at: daysAgo(30) },
      { parent_task_id: 'c', location: 'archive', completed_at: 'garbage', updated_at: daysAgo(1) },
      { parent_task_id: 'd', location: 'archive', updated_at: 'not a time' },
      { parent_task_id: 'e', location: 'archive', updated_at: '2025-05-30T10:42:17.654321' }, // a Python-era naive time
    ];
    assert.deepEqual(ids(chooseParentsToPrune(list, { maxAgeDays: 7, maxCount: null }, NOW)), ['e', 'a', 'b']);
    assert.deepEqual(ids(chooseParentsToPrune(list, { maxAgeDays: null, maxCount: 1 }, NOW)), ['e', 'a']);
  });

  test('ties are broken by id, so every process chooses the same', () => {
    const same = ['task_c', 'task_a', 'task_b'].map((id) => ({ parent_task_id: id, location: 'archive' as const, completed_at: daysAgo(5), updated_at: daysAgo(5) }));
    assert.deepEqual(ids(chooseParentsToPrune(same, { maxAgeDays: null, maxCount: 1 }, NOW)), ['task_a', 'task_b']);
  });
});

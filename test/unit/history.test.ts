import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pageOfEvents } from '../../src/app/get-history.js';
import { appendEvents, eventsOf, HISTORY_NOTE_CHARS, recordPlanned, recordTransition, type HistoryEvent } from '../../src/domain/history.js';
import { releaseExpiredLease } from '../../src/domain/leases.js';
import { completeSubtask, startSubtask } from '../../src/domain/lifecycle.js';
import type { ParentTask } from '../../src/domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../../src/domain/task-file.js';
import { LATER, NOW, parentWith, subtask } from './builders.js';

const source = { at: LATER, agent: 'session-abc' };
const owner = { pid: 1, host: 'h', instance: 'i' };
const value = <T>(check: { ok: true; value: T } | { ok: false; message: string }): T => {
  if (!check.ok) assert.fail(check.message);
  return check.value;
};
const completion = (results: string, nextAction: 'continue' | 'needs_revision' | 'blocked' = 'continue') => ({ results, artifacts: [], artifactType: null, nextAction, detailedWorkFile: null, detailedWorkDigest: null, force: false, now: LATER });

describe('history events', () => {
  const base = parentWith([subtask('p.1'), subtask('p.2', { dependencies: ['p.1'] })], { parent_task_id: 'p', revision: 4 });

  test('a transition is appended with time, agent, from, to and the revision the write will have', () => {
    const started = recordTransition(base, value(startSubtask(base, 'p.1', { force: false, owner, now: LATER })), 'p.1', source);
    assert.deepEqual(started.history, [{ at: LATER, agent: 'session-abc', task_id: 'p.1', from: 'pending', to: 'active', revision: 5 }]);
    const done = recordTransition({ ...started, revision: 5 }, value(completeSubtask({ ...started, revision: 5 }, 'p.1', completion('found it'))), 'p.1', source);
    assert.deepEqual(done.history!.map((e) => [e.task_id, e.from, e.to, e.revision, e.note]), [
      ['p.1', 'pending', 'active', 5, undefined],
      ['p.1', 'active', 'completed', 6, 'found it'],
    ]);
  });

  test('the parent completing records it archived; a change that changes nothing records nothing', () => {
    const one = parentWith([subtask('q.1', { status: 'active' })], { parent_task_id: 'q' });
    const done = recordTransition(one, value(completeSubtask(one, 'q.1', completion('ok'))), 'q.1', source);
    assert.deepEqual(done.history!.map((e) => `${e.task_id} ${e.from}->${e.to}`), ['q.1 active->completed', 'q active->archived']);
    assert.equal(recordTransition(done, done, 'q.1', source), done);
  });

  test('needs_revision and blocked note what was recorded; notes are cut without splitting a character', () => {
    const active = parentWith([subtask('r.1', { status: 'active' })], { parent_task_id: 'r' });
    const revised = recordTransition(active, value(completeSubtask(active, 'r.1', completion('wrong guess', 'needs_revision'))), 'r.1', source);
    assert.equal(revised.history![0]!.note, 'needs revision: wrong guess');
    const long = `${'a'.repeat(HISTORY_NOTE_CHARS - 2)}😀${'b'.repeat(50)}`;
    const blocked = recordTransition(active, value(completeSubtask(active, 'r.1', completion(long, 'blocked'))), 'r.1', source);
    const note = blocked.history![0]!.note!;
    assert.ok(note.length <= HISTORY_NOTE_CHARS && note.endsWith('…'));
    assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(note), 'no lone high surrogate');
  });

  test('a plan starts with one event for the parent; absent history reads as empty', () => {
    const planned = recordPlanned(parentWith([subtask('s.1')], { parent_task_id: 's', revision: 1 }), source);
    assert.deepEqual(planned.history, [{ at: LATER, agent: 'session-abc', task_id: 's', from: null, to: 'active', revision: 1, note: 'planned with 1 subtask' }]);
    assert.deepEqual(eventsOf(parentWith([subtask('t.1')], { parent_task_id: 't' })), []);
    const two = appendEvents(planned, source, [{ task_id: 's.1', from: 'pending', to: 'active' }]);
    assert.deepEqual(eventsOf(two, 's.1').map((e) => e.task_id), ['s.1']);
    assert.equal(eventsOf(two).length, 2);
  });
});

describe('history pages', () => {
  const events: HistoryEvent[] = Array.from({ length: 7 }, (_, i) => ({ at: NOW, agent: null, task_id: 'p.1', from: 'pending', to: 'active', revision: i + 1 }));

  test('offset and limit, with where the next page starts', () => {
    assert.deepEqual(pageOfEvents(events, 0, 3).events.map((e) => e.revision), [1, 2, 3]);
    assert.equal(pageOfEvents(events, 0, 3).next, 3);
    assert.deepEqual(pageOfEvents(events, 6, 3), { events: [events[6]], next: null });
    assert.deepEqual(pageOfEvents(events, 9, 3), { events: [], next: null });
  });

  test('a page is cut shorter when its events would make the reply large', () => {
    const big = events.map((e) => ({ ...e, note: 'n'.repeat(20_000) }));
    const page = pageOfEvents(big, 0, 7);
    assert.equal(page.events.length, 2);
    assert.equal(page.next, 2);
  });
});

describe('task files with history', () => {
  const parent: ParentTask = { ...parentWith([subtask('task_0123456789.1')]), history: [{ at: NOW, agent: null, task_id: 'task_0123456789', from: null, to: 'active', revision: 1 }] };

  test('history round-trips, with fields this version does not know kept', () => {
    const text = serializeTaskFile({ ...parent, history: [{ ...parent.history![0]!, lease_token: 'x' } as HistoryEvent] });
    const read = parseTaskFile(text);
    assert.ok(read.ok);
    assert.deepEqual(read.value.history, [{ ...parent.history![0], lease_token: 'x' }]);
  });

  test('a malformed history is refused, naming the field', () => {
    for (const [history, field] of [['x', /history: expected a list/], [[{ at: NOW, task_id: 't', to: 'active' }], /history\.0\.revision/], [[{ at: NOW, task_id: 't', revision: 1 }], /history\.0\.to/], [[{ at: NOW, task_id: 't', to: 'a', revision: 1, agent: 3 }], /history\.0\.agent/]] as const) {
      const read = parseTaskFile(JSON.stringify({ ...parent, history }));
      assert.ok(!read.ok);
      assert.match(read.message, field);
    }
  });
});

describe('releaseExpiredLease', () => {
  const leased = (expires_at: string) => parentWith([subtask('p.1', { status: 'active', active_owner: owner, ...({ lease: { agent_id: 'a', expires_at } } as object) })]);

  test('an expired lease goes back to pending without lease or owner; an unexpired one is left as it is', () => {
    const released = releaseExpiredLease(leased(NOW), 'p.1', LATER);
    assert.equal(released.subtasks[0]!.status, 'pending');
    assert.equal(released.subtasks[0]!.active_owner, null);
    assert.equal((released.subtasks[0] as { lease?: unknown }).lease, null);
    const live = leased(LATER);
    assert.equal(releaseExpiredLease(live, 'p.1', NOW), live);
  });
});

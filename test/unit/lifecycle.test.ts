import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  completeSubtask,
  dependenciesSkippedByCompletion,
  interruptedSubtasks,
  isParentComplete,
  nextRecommended,
  nextWorkFileNumber,
  progressOf,
  startSubtask,
  statusCounts,
  type Completion,
} from '../../src/domain/lifecycle.js';
import type { Check } from '../../src/domain/errors.js';
import type { ActiveOwner, NextAction, ParentTask, Subtask } from '../../src/domain/model.js';
import { LATER, NOW, parentWith, subtask } from './builders.js';

const OWNER: ActiveOwner = { pid: 4242, host: 'box', instance: 'inst-1' };

function value<T>(check: Check<T>): T {
  if (!check.ok) assert.fail(`expected success, got ${check.code}: ${check.message}`);
  return check.value;
}

function failure<T>(check: Check<T>): { code: string; message: string; data?: Record<string, unknown> } {
  if (check.ok) assert.fail('expected a failure');
  return check;
}

function find(parent: ParentTask, id: string): Subtask {
  const found = parent.subtasks.find((s) => s.task_id === id);
  assert.ok(found, `subtask ${id} exists`);
  return found;
}

const start = (parent: ParentTask, id: string, force = false) => startSubtask(parent, id, { force, owner: OWNER, now: LATER });

function completion(nextAction: NextAction, results = 'Did it', extra: Partial<Completion> = {}): Completion {
  return { results, artifacts: [], artifactType: null, nextAction, detailedWorkFile: null, detailedWorkDigest: null, force: false, now: LATER, ...extra };
}

/** a <- b (b depends on a); c is independent. */
const chain = () =>
  parentWith([subtask('p.1', { title: 'Design' }), subtask('p.2', { title: 'Build', dependencies: ['p.1'] }), subtask('p.3', { title: 'Docs' })]);

describe('startSubtask', () => {
  test('marks a ready subtask active with its owner and start time', () => {
    const s = find(value(start(chain(), 'p.1')), 'p.1');
    assert.equal(s.status, 'active');
    assert.deepEqual(s.active_owner, OWNER);
    assert.equal(s.started_at, LATER);
  });

  test('refuses a subtask with unfinished dependencies, naming them, with UNMET_DEPENDENCIES', () => {
    const error = failure(start(chain(), 'p.2'));
    assert.equal(error.code, 'UNMET_DEPENDENCIES');
    assert.match(error.message, /p\.1 \("Design", pending\)/);
    assert.deepEqual(error.data?.unmet_dependencies, [{ task_id: 'p.1', title: 'Design', status: 'pending' }]);
  });

  test('starts a subtask with unfinished dependencies when forced', () => {
    assert.equal(find(value(start(chain(), 'p.2', true)), 'p.2').status, 'active');
  });

  test('records on the subtask which unfinished dependencies a forced start went ahead of', () => {
    assert.deepEqual(find(value(start(chain(), 'p.2', true)), 'p.2').forced_past_dependencies, ['p.1']);
  });

  test('a start that waited for its dependencies clears an earlier forced record', () => {
    const parent = parentWith([subtask('p.1', { status: 'completed', results: 'ok' }), subtask('p.2', { dependencies: ['p.1'], forced_past_dependencies: ['p.1'] })]);
    assert.equal('forced_past_dependencies' in find(value(start(parent, 'p.2')), 'p.2'), false);
  });

  test('starts a subtask once its dependencies are completed', () => {
    const parent = parentWith([subtask('p.1', { status: 'completed', results: 'ok' }), subtask('p.2', { dependencies: ['p.1'] })]);
    assert.equal(find(value(start(parent, 'p.2')), 'p.2').status, 'active');
  });

  test('refuses to restart a completed subtask with INVALID_TRANSITION', () => {
    const parent = parentWith([subtask('p.1', { status: 'completed', results: 'first', completed_at: NOW })]);
    assert.equal(failure(start(parent, 'p.1')).code, 'INVALID_TRANSITION');
  });

  test('restarting a completed subtask with force moves its old results into revision_notes', () => {
    const parent = parentWith([subtask('p.1', { status: 'completed', results: 'first', completed_at: NOW, revision_notes: ['zeroth'] })], { status: 'completed', completed_at: NOW });
    const after = value(start(parent, 'p.1', true));
    const s = find(after, 'p.1');
    assert.equal(s.status, 'active');
    assert.equal(s.results, null);
    assert.equal(s.completed_at, null);
    assert.deepEqual(s.revision_notes, ['zeroth', 'first']);
    assert.equal(after.status, 'active');
    assert.equal(after.completed_at, null);
  });

  test('refuses an unknown subtask id with TASK_NOT_FOUND listing the real ones', () => {
    const error = failure(start(chain(), 'p.9'));
    assert.equal(error.code, 'TASK_NOT_FOUND');
    assert.match(error.message, /p\.1, p\.2, p\.3/);
  });

  test('leaves the input parent untouched', () => {
    const parent = chain();
    const before = structuredClone(parent);
    start(parent, 'p.1');
    assert.deepEqual(parent, before);
  });

  test('a dependency naming no subtask (Python-era files) is refused before anything changes, and can be forced past', () => {
    const parent = parentWith([subtask('p.1', { title: 'Build', dependencies: ['gone_1'] })]);
    const refused = failure(start(parent, 'p.1'));
    assert.equal(refused.code, 'UNMET_DEPENDENCIES');
    assert.match(refused.message, /gone_1, which is not a subtask/);
    assert.equal(find(value(start(parent, 'p.1', true)), 'p.1').status, 'active');
    assert.equal(nextRecommended(parent), null, 'it is never recommended as ready');
  });
});

describe('completeSubtask', () => {
  const active = () => value(start(chain(), 'p.1'));

  for (const action of ['continue', 'complete'] as const) {
    test(`next_action "${action}" completes the subtask with results and completed_at`, () => {
      const s = find(value(completeSubtask(active(), 'p.1', completion(action, 'Designed'))), 'p.1');
      assert.equal(s.status, 'completed');
      assert.equal(s.results, 'Designed');
      assert.equal(s.completed_at, LATER);
      assert.equal(s.active_owner, null);
    });
  }

  test('next_action "needs_revision" sends it back to pending with the results kept in revision_notes', () => {
    const s = find(value(completeSubtask(active(), 'p.1', completion('needs_revision', 'Missing the error paths'))), 'p.1');
    assert.equal(s.status, 'pending');
    assert.equal(s.results, null);
    assert.equal(s.completed_at, null);
    assert.deepEqual(s.revision_notes, ['Missing the error paths']);
  });

  test('needs_revision on completed work keeps that work in revision_notes before the new note', () => {
    const done = value(completeSubtask(active(), 'p.1', completion('continue', 'ORIGINAL WORK')));
    const s = find(value(completeSubtask(done, 'p.1', completion('needs_revision', 'please add tests'))), 'p.1');
    assert.equal(s.status, 'pending');
    assert.deepEqual(s.revision_notes, ['ORIGINAL WORK', 'please add tests']);
  });

  test('a repeated needs_revision or blocked call changes nothing the second time', () => {
    for (const action of ['needs_revision', 'blocked'] as const) {
      const once = value(completeSubtask(active(), 'p.1', completion(action, 'same reason')));
      assert.equal(value(completeSubtask(once, 'p.1', completion(action, 'same reason'))), once, action);
    }
  });

  test('starting again or sending back for revision clears a blocked reason', () => {
    const blocked = value(completeSubtask(active(), 'p.1', completion('blocked', 'Waiting')));
    assert.equal(find(value(start(blocked, 'p.1')), 'p.1').blocked_reason, null);
    assert.equal(find(value(completeSubtask(blocked, 'p.1', completion('needs_revision', 'Try another way'))), 'p.1').blocked_reason, null);
  });

  test('next_action "blocked" blocks the subtask with the reason', () => {
    const s = find(value(completeSubtask(active(), 'p.1', completion('blocked', 'Waiting for API keys'))), 'p.1');
    assert.equal(s.status, 'blocked');
    assert.equal(s.blocked_reason, 'Waiting for API keys');
    assert.equal(s.completed_at, null);
  });

  test('completing after a block clears the blocked reason', () => {
    const blocked = value(completeSubtask(active(), 'p.1', completion('blocked', 'Waiting')));
    const s = find(value(completeSubtask(blocked, 'p.1', completion('continue', 'Done after all'))), 'p.1');
    assert.equal(s.status, 'completed');
    assert.equal(s.blocked_reason, null);
  });

  test('a repeated completion with identical results returns the same parent object', () => {
    const done = value(completeSubtask(active(), 'p.1', completion('continue', 'Designed')));
    assert.equal(value(completeSubtask(done, 'p.1', completion('complete', 'Designed'))), done);
  });

  test('a repeated completion with different results is INVALID_TRANSITION', () => {
    const done = value(completeSubtask(active(), 'p.1', completion('continue', 'Designed')));
    assert.equal(failure(completeSubtask(done, 'p.1', completion('continue', 'Designed differently'))).code, 'INVALID_TRANSITION');
  });

  test('merges artifacts without duplicates, keeping the earlier ones first', () => {
    const parent = parentWith([subtask('p.1', { status: 'active', artifacts: ['a.ts', 'b.ts'] })]);
    const s = find(value(completeSubtask(parent, 'p.1', completion('continue', 'ok', { artifacts: ['b.ts', 'c.ts', 'c.ts'] }))), 'p.1');
    assert.deepEqual(s.artifacts, ['a.ts', 'b.ts', 'c.ts']);
  });

  test('records artifact_type and detailed_work_file', () => {
    const c = completion('continue', 'ok', { artifactType: 'code', detailedWorkFile: 'work/p.1.md' });
    const s = find(value(completeSubtask(active(), 'p.1', c)), 'p.1');
    assert.equal(s.artifact_type, 'code');
    assert.equal(s.detailed_work_file, 'work/p.1.md');
  });

  test('keeps the parent active while some subtasks are unfinished', () => {
    const after = value(completeSubtask(active(), 'p.1', completion('continue')));
    assert.equal(after.status, 'active');
    assert.equal(after.completed_at, null);
  });

  test('completes the parent when its last subtask completes', () => {
    const parent = parentWith([subtask('p.1', { status: 'completed', results: 'x' }), subtask('p.2', { status: 'active' })]);
    const after = value(completeSubtask(parent, 'p.2', completion('continue')));
    assert.equal(after.status, 'completed');
    assert.equal(after.completed_at, LATER);
    assert.equal(after.updated_at, LATER);
    assert.equal(isParentComplete(after), true);
  });

  test('refuses an unknown subtask id with TASK_NOT_FOUND', () => {
    assert.equal(failure(completeSubtask(chain(), 'nope', completion('continue'))).code, 'TASK_NOT_FOUND');
  });

  test('blocked on a completed subtask keeps its results as a revision note', () => {
    const done = value(completeSubtask(chain(), 'p.1', completion('continue', 'Schema v2 agreed')));
    const blocked = find(value(completeSubtask(done, 'p.1', completion('blocked', 'The DBA vetoed it'))), 'p.1');
    assert.equal(blocked.status, 'blocked');
    assert.equal(blocked.blocked_reason, 'The DBA vetoed it');
    assert.deepEqual(blocked.revision_notes, ['Schema v2 agreed']);
  });

  test('a retry is a repeat only when it brings nothing new; new material on a completed subtask is refused by name', () => {
    const first = completion('continue', 'Export added', { artifacts: ['src/a.ts'], detailedWorkDigest: 'd1', artifactType: 'code' });
    const done = value(completeSubtask(chain(), 'p.1', first));
    assert.equal(value(completeSubtask(done, 'p.1', first)), done, 'the same call again changes nothing');
    assert.equal(value(completeSubtask(done, 'p.1', { ...first, artifacts: [], artifactType: null })), done, 'leaving out what is stored is no new material');
    const changes: [Partial<Completion>, string][] = [
      [{ detailedWorkDigest: 'd2' }, 'detailed_work'],
      [{ detailedWorkDigest: null }, 'detailed_work'],
      [{ artifacts: ['src/a.ts', 'src/b.ts'] }, 'artifacts'],
      [{ artifactType: 'documentation' }, 'artifact_type'],
      [{ results: 'Export added differently' }, 'results'],
    ];
    for (const [change, field] of changes) {
      const refused = failure(completeSubtask(done, 'p.1', { ...first, ...change }));
      assert.equal(refused.code, 'INVALID_TRANSITION');
      assert.match(refused.message, new RegExp(`different ${field}`));
    }
  });

  test('a repeated needs_revision with new detailed work is recorded, not dropped', () => {
    const sent = value(completeSubtask(chain(), 'p.1', completion('needs_revision', 'Wrong approach', { detailedWorkDigest: 'd1', detailedWorkFile: 'tasks/work/p/p.1.1.md' })));
    const again = completion('needs_revision', 'Wrong approach', { detailedWorkDigest: 'd2', detailedWorkFile: 'tasks/work/p/p.1.2.md' });
    const updated = find(value(completeSubtask(sent, 'p.1', again)), 'p.1');
    assert.equal(updated.detailed_work_file, 'tasks/work/p/p.1.2.md');
    assert.deepEqual(updated.earlier_work_files, ['tasks/work/p/p.1.1.md'], 'the earlier document stays referenced');
    assert.equal(nextWorkFileNumber(updated), 3);
  });

});

describe('completeSubtask and unfinished dependencies', () => {
  test('refuses to complete a pending subtask whose dependencies are unfinished, naming them and the fix', () => {
    const error = failure(completeSubtask(chain(), 'p.2', completion('continue')));
    assert.equal(error.code, 'UNMET_DEPENDENCIES');
    assert.match(error.message, /p\.1 \("Design", pending\)/);
    assert.match(error.message, /force: true/);
    assert.deepEqual(error.data?.unmet_dependencies, [{ task_id: 'p.1', title: 'Design', status: 'pending' }]);
  });

  test('refuses the same for a blocked or failed subtask that was not started again', () => {
    for (const status of ['blocked', 'failed'] as const) {
      const parent = parentWith([subtask('p.1'), subtask('p.2', { status, dependencies: ['p.1'] })]);
      assert.equal(failure(completeSubtask(parent, 'p.2', completion('complete'))).code, 'UNMET_DEPENDENCIES', status);
    }
  });

  test('completes it with force and records the dependencies it went ahead of', () => {
    const s = find(value(completeSubtask(chain(), 'p.2', completion('continue', 'Built early', { force: true }))), 'p.2');
    assert.equal(s.status, 'completed');
    assert.deepEqual(s.forced_past_dependencies, ['p.1']);
  });

  test('an active subtask completes without force: execute_subtask checked (or forced) its dependencies', () => {
    const forced = value(start(chain(), 'p.2', true));
    const s = find(value(completeSubtask(forced, 'p.2', completion('continue'))), 'p.2');
    assert.equal(s.status, 'completed');
    assert.deepEqual(s.forced_past_dependencies, ['p.1'], 'the record of the forced start stays');
  });

  test('blocked and needs_revision are accepted: they claim nothing is done', () => {
    assert.equal(find(value(completeSubtask(chain(), 'p.2', completion('blocked', 'Waiting for the design'))), 'p.2').status, 'blocked');
    assert.equal(find(value(completeSubtask(chain(), 'p.2', completion('needs_revision', 'Redo'))), 'p.2').status, 'pending');
  });

  test('a pending subtask whose dependencies are completed completes without force and without a record', () => {
    const parent = parentWith([subtask('p.1', { status: 'completed', results: 'ok' }), subtask('p.2', { dependencies: ['p.1'], forced_past_dependencies: ['p.1'] })]);
    const s = find(value(completeSubtask(parent, 'p.2', completion('continue'))), 'p.2');
    assert.equal(s.status, 'completed');
    assert.equal('forced_past_dependencies' in s, false);
  });

  test('dependenciesSkippedByCompletion lists the unfinished dependencies only where the check applies', () => {
    const parent = chain();
    const build = find(parent, 'p.2');
    assert.deepEqual(dependenciesSkippedByCompletion(parent, build, 'continue').map((d) => d.task_id), ['p.1']);
    assert.deepEqual(dependenciesSkippedByCompletion(parent, build, 'blocked'), []);
    assert.deepEqual(dependenciesSkippedByCompletion(parent, { ...build, status: 'active' }, 'complete'), []);
  });
});

describe('progress and counts', () => {
  const mixed = () =>
    parentWith([
      subtask('p.1', { status: 'completed' }),
      subtask('p.2', { status: 'active' }),
      subtask('p.3', { status: 'blocked' }),
    ]);

  test('progressOf counts completed subtasks and rounds the percentage to one decimal', () => {
    assert.deepEqual(progressOf(mixed()), { parent_task_id: 'task_0123456789', completed_subtasks: 1, total_subtasks: 3, progress_percentage: 33.3 });
  });

  test('progressOf of a parent without subtasks is 0%', () => {
    assert.equal(progressOf(parentWith([])).progress_percentage, 0);
  });

  test('statusCounts reports every status, zero included', () => {
    assert.deepEqual(statusCounts(mixed().subtasks), { pending: 0, active: 1, completed: 1, blocked: 1, failed: 0 });
  });

  test('isParentComplete is false for a parent without subtasks', () => {
    assert.equal(isParentComplete(parentWith([])), false);
  });
});

describe('nextRecommended', () => {
  test('prefers a subtask that the just-completed one unblocked', () => {
    const parent = parentWith([subtask('p.1'), subtask('p.2', { status: 'completed' }), subtask('p.3', { dependencies: ['p.2'] })]);
    assert.equal(nextRecommended(parent, 'p.2')?.task_id, 'p.3');
  });

  test('otherwise takes the first ready subtask in execution order', () => {
    const parent = parentWith([subtask('p.1', { dependencies: ['p.2'] }), subtask('p.2'), subtask('p.3')]);
    assert.equal(nextRecommended(parent)?.task_id, 'p.2');
  });

  test('skips subtasks that are not pending or whose dependencies are unfinished', () => {
    const parent = parentWith([subtask('p.1', { status: 'active' }), subtask('p.2', { dependencies: ['p.1'] }), subtask('p.3', { status: 'blocked' }), subtask('p.4')]);
    assert.equal(nextRecommended(parent, 'p.9')?.task_id, 'p.4');
  });

  test('returns null when no subtask is ready', () => {
    const parent = parentWith([subtask('p.1', { status: 'active' }), subtask('p.2', { dependencies: ['p.1'] })]);
    assert.equal(nextRecommended(parent), null);
  });

  test('returns null when every subtask is completed', () => {
    assert.equal(nextRecommended(parentWith([subtask('p.1', { status: 'completed' })]), 'p.1'), null);
  });
});

describe('interruptedSubtasks', () => {
  const dead: ActiveOwner = { pid: 1, host: 'box', instance: 'gone' };
  const alive: ActiveOwner = { pid: 2, host: 'box', instance: 'here' };
  const parent = parentWith([
    subtask('p.1', { status: 'active', active_owner: dead }),
    subtask('p.2', { status: 'active', active_owner: alive }),
    subtask('p.3', { status: 'active' }),
    subtask('p.4', { status: 'active', active_owner: null }),
    subtask('p.5', { status: 'pending', active_owner: dead }),
    subtask('p.6', { status: 'completed' }),
  ]);

  test('lists active subtasks whose owner is dead or unrecorded, and nothing else', () => {
    const ids = interruptedSubtasks(parent, (owner) => owner.instance === 'here').map((s) => s.task_id);
    assert.deepEqual(ids, ['p.1', 'p.3', 'p.4']);
  });
});

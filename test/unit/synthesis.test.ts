import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { synthesize } from '../../src/domain/synthesis.js';
import { parentWith, subtask } from './builders.js';

const unfinishedPlan = () =>
  parentWith(
    [
      subtask('p.1', { title: 'Design', specialist_type: 'reviewer', status: 'completed', results: 'Three layers', artifacts: ['docs/design.md'] }),
      subtask('p.2', { title: 'Build', specialist_type: 'implementer', status: 'completed', results: 'Built it', artifacts: ['src/a.ts', 'docs/design.md'], detailed_work_file: 'work/p.2.md' }),
      subtask('p.3', { title: 'Review design', specialist_type: 'reviewer', status: 'blocked', results: 'No access to the repo', blocked_reason: 'No access to the repo' }),
      subtask('p.4', { title: 'Test', specialist_type: 'tester', status: 'pending' }),
    ],
    { description: 'Ship the todo API' },
  );

const donePlan = () =>
  parentWith([
    subtask('p.1', { title: 'Design', specialist_type: 'architect', status: 'completed', results: 'Three layers' }),
    subtask('p.2', { title: 'Build', specialist_type: 'implementer', status: 'completed', results: 'Built it' }),
  ]);

describe('synthesize with unfinished work', () => {
  const s = synthesize(unfinishedPlan());

  test('groups subtasks by role in order of first appearance', () => {
    assert.deepEqual(
      s.by_role.map((g) => [g.specialist_type, g.subtasks.map((e) => e.task_id)]),
      [
        ['reviewer', ['p.1', 'p.3']],
        ['implementer', ['p.2']],
        ['tester', ['p.4']],
      ],
    );
  });

  test('lists every unfinished subtask with its status and reason', () => {
    assert.deepEqual(s.unfinished, [
      { task_id: 'p.3', title: 'Review design', status: 'blocked', reason: 'No access to the repo' },
      { task_id: 'p.4', title: 'Test', status: 'pending', reason: null },
    ]);
  });

  test('is not complete and reports the progress', () => {
    assert.equal(s.complete, false);
    assert.equal(s.progress.completed_subtasks, 2);
    assert.equal(s.progress.total_subtasks, 4);
  });

  test('collects all artifacts once each', () => {
    assert.deepEqual(s.all_artifacts, ['docs/design.md', 'src/a.ts']);
  });

  test('report says the work is not finished and lists what is open', () => {
    assert.match(s.report, /2 of 4 subtasks completed \(50%\)/);
    assert.match(s.report, /Not finished: 2 subtask\(s\) still open/);
    assert.match(s.report, /## Unfinished\n- p\.3 "Review design": blocked \(No access to the repo\)\n- p\.4 "Test": pending/);
    assert.doesNotMatch(s.report, /All subtasks are completed/);
  });

  test('report shows results only for completed subtasks', () => {
    assert.match(s.report, /### Design \(p\.1, completed\)\nThree layers/);
    assert.match(s.report, /### Review design \(p\.3, blocked\)\n\(no final results: blocked\)/);
  });

  test('report points to detailed work and artifacts', () => {
    assert.match(s.report, /Detailed work: \.task_orchestrator\/work\/p\.2\.md/);
    assert.match(s.report, /Artifacts: src\/a\.ts, docs\/design\.md/);
  });
});

describe('synthesize with every subtask completed', () => {
  const s = synthesize(donePlan());

  test('is complete with nothing unfinished', () => {
    assert.equal(s.complete, true);
    assert.deepEqual(s.unfinished, []);
  });

  test('report says all subtasks are completed and has no Unfinished section', () => {
    assert.match(s.report, /All subtasks are completed\./);
    assert.doesNotMatch(s.report, /## Unfinished|Not finished/);
  });

  test('report contains every result under its role heading', () => {
    assert.match(s.report, /## architect\n\n### Design \(p\.1, completed\)\nThree layers/);
    assert.match(s.report, /## implementer\n\n### Build \(p\.2, completed\)\nBuilt it/);
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SUBTASKS, dependencyResolver, findCycle, titleKey, topologicalOrder, validatePlan, type PlanRequest, type ValidPlan } from '../../src/domain/plan.js';
import type { Check } from '../../src/domain/errors.js';
import { NOW } from './builders.js';

const ROLES: ReadonlySet<string> = new Set(['architect', 'implementer', 'tester', 'reviewer']);
const PARENT = 'task_abcdef0123';

function plan(request: Partial<PlanRequest>): Check<ValidPlan> {
  return validatePlan({ description: 'Build a todo app', ...request }, ROLES, PARENT, NOW);
}

function planned(request: Partial<PlanRequest>): ValidPlan {
  const result = plan(request);
  if (!result.ok) assert.fail(`expected a valid plan, got ${result.code}: ${result.message}`);
  return result.value;
}

function refused(request: Partial<PlanRequest>): { code: string; message: string; data?: Record<string, unknown> } {
  const result = plan(request);
  if (result.ok) assert.fail('expected the plan to be refused');
  return result;
}

const item = (task_id: string, dependencies: string[] = [], specialist_type = 'implementer') => ({
  task_id,
  title: `Do ${task_id}`,
  description: `Work for ${task_id}`,
  specialist_type,
  dependencies,
});

describe('validatePlan: a valid plan', () => {
  const { parent, executionOrder } = planned({
    subtasks: [item('design', [], 'architect'), item('build', ['design']), item('test', ['build', 'design'], 'tester')],
    complexity_level: 'complex',
    context: 'Node 20',
  });

  test('gives subtask ids <parent>.<n> in plan order', () => {
    assert.deepEqual(parent.subtasks.map((s) => s.task_id), [`${PARENT}.1`, `${PARENT}.2`, `${PARENT}.3`]);
  });

  test('maps dependencies from the assistant handles to the new ids', () => {
    assert.deepEqual(parent.subtasks[1]!.dependencies, [`${PARENT}.1`]);
    assert.deepEqual(parent.subtasks[2]!.dependencies, [`${PARENT}.2`, `${PARENT}.1`]);
  });

  test('keeps the assistant handle on each subtask', () => {
    assert.deepEqual(parent.subtasks.map((s) => s.handle), ['design', 'build', 'test']);
  });

  test('returns a topological execution order', () => {
    assert.deepEqual(executionOrder, [`${PARENT}.1`, `${PARENT}.2`, `${PARENT}.3`]);
  });

  test('builds an active parent in the current format with every subtask pending', () => {
    assert.equal(parent.version, '2.0');
    assert.equal(parent.parent_task_id, PARENT);
    assert.equal(parent.status, 'active');
    assert.equal(parent.complexity, 'complex');
    assert.equal(parent.context, 'Node 20');
    assert.equal(parent.created_at, NOW);
    assert.ok(parent.subtasks.every((s) => s.status === 'pending' && s.results === null && s.completed_at === null));
  });
});

describe('validatePlan: accepted variations', () => {
  test('accepts subtasks_json as a string holding the same array', () => {
    const fromJson = planned({ subtasks_json: JSON.stringify([item('a'), item('b', ['a'])]) });
    const fromArray = planned({ subtasks: [item('a'), item('b', ['a'])] });
    assert.deepEqual(fromJson, fromArray);
  });

  test('matches known roles case-insensitively and stores them lower-case', () => {
    const { parent } = planned({ subtasks: [item('a', [], 'Architect'), item('b', [], 'TESTER')] });
    assert.deepEqual(parent.subtasks.map((s) => s.specialist_type), ['architect', 'tester']);
  });

  test('orders a dependency listed later in the plan before its dependent', () => {
    const { executionOrder } = planned({ subtasks: [item('b', ['a']), item('a')] });
    assert.deepEqual(executionOrder, [`${PARENT}.2`, `${PARENT}.1`]);
  });

  test('defaults complexity to moderate and normalises "very complex"', () => {
    assert.equal(planned({ subtasks: [item('a')] }).parent.complexity, 'moderate');
    assert.equal(planned({ subtasks: [item('a')], complexity_level: 'Very Complex' }).parent.complexity, 'very_complex');
  });

  test('gives subtasks without a task_id their own ids', () => {
    const { parent } = planned({ subtasks: [{ title: 'One', specialist_type: 'tester' }, { title: 'Two', specialist_type: 'tester' }] });
    assert.deepEqual(parent.subtasks.map((s) => s.task_id), [`${PARENT}.1`, `${PARENT}.2`]);
  });

  test('lists a repeated dependency once', () => {
    const { parent } = planned({ subtasks: [item('a'), item('b', ['a', 'a', ' a '])] });
    assert.deepEqual(parent.subtasks[1]!.dependencies, [`${PARENT}.1`]);
  });

  test('accepts exactly MAX_SUBTASKS subtasks', () => {
    const many = Array.from({ length: MAX_SUBTASKS }, (_, i) => item(`s${i}`));
    assert.equal(planned({ subtasks: many }).parent.subtasks.length, MAX_SUBTASKS);
  });
});

describe('validatePlan: refused plans', () => {
  test('refuses an empty description with INVALID_INPUT', () => {
    assert.equal(refused({ description: '  ', subtasks: [item('a')] }).code, 'INVALID_INPUT');
  });

  test('refuses malformed subtasks_json with INVALID_PLAN naming the JSON problem', () => {
    const error = refused({ subtasks_json: '[{"title": "a",' });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /not valid JSON/);
  });

  test('refuses subtasks that are not an array with INVALID_PLAN', () => {
    const error = refused({ subtasks_json: '{"title": "a"}' });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /must be an array/);
  });

  test('refuses an empty subtask list with INVALID_PLAN', () => {
    assert.equal(refused({ subtasks: [] }).code, 'INVALID_PLAN');
  });

  test('refuses a plan with no subtasks at all with INVALID_PLAN', () => {
    assert.equal(refused({}).code, 'INVALID_PLAN');
  });

  test('refuses both subtasks and subtasks_json with INVALID_INPUT', () => {
    const error = refused({ subtasks: [item('a')], subtasks_json: JSON.stringify([item('a')]) });
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /Both subtasks and subtasks_json/);
  });

  test('refuses more than MAX_SUBTASKS subtasks with INVALID_PLAN', () => {
    const many = Array.from({ length: MAX_SUBTASKS + 1 }, (_, i) => item(`s${i}`));
    const error = refused({ subtasks: many });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, new RegExp(`at most ${MAX_SUBTASKS}`));
  });

  test('refuses a subtask without a title with INVALID_PLAN naming its position', () => {
    const error = refused({ subtasks: [item('a'), { specialist_type: 'tester' }] });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /subtasks\[1\] has no title/);
  });

  test('refuses a subtask without a specialist_type with INVALID_PLAN listing the roles', () => {
    const error = refused({ subtasks: [{ title: 'Anything' }] });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /no specialist_type/);
    assert.match(error.message, /architect, implementer, tester, reviewer/);
  });

  test('refuses an unknown specialist_type with UNKNOWN_ROLE naming it', () => {
    const error = refused({ subtasks: [item('a', [], 'wizard')] });
    assert.equal(error.code, 'UNKNOWN_ROLE');
    assert.match(error.message, /"wizard"/);
  });

  test('refuses a subtask that is not an object with INVALID_PLAN', () => {
    const error = refused({ subtasks: ['just a string'] });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /subtasks\[0\] is a string/);
  });

  test('refuses an unknown dependency with UNKNOWN_DEPENDENCY naming it', () => {
    const error = refused({ subtasks: [item('a'), item('b', ['nope'])] });
    assert.equal(error.code, 'UNKNOWN_DEPENDENCY');
    assert.match(error.message, /"nope"/);
  });

  test('refuses a self dependency with DEPENDENCY_CYCLE', () => {
    const error = refused({ subtasks: [item('a', ['a'])] });
    assert.equal(error.code, 'DEPENDENCY_CYCLE');
    assert.match(error.message, /a -> a/);
  });

  test('refuses a longer cycle with DEPENDENCY_CYCLE naming the whole cycle', () => {
    const error = refused({ subtasks: [item('start'), item('a', ['c']), item('b', ['a']), item('c', ['b'])] });
    assert.equal(error.code, 'DEPENDENCY_CYCLE');
    assert.match(error.message, /a -> c -> b -> a/);
  });

  test('refuses duplicate handles with DUPLICATE_TASK_ID naming both positions', () => {
    const error = refused({ subtasks: [item('a'), item('b'), item('a')] });
    assert.equal(error.code, 'DUPLICATE_TASK_ID');
    assert.match(error.message, /subtasks\[2\] reuses task_id "a" already given to subtasks\[0\]/);
  });

  test('refuses an unknown complexity_level with INVALID_INPUT listing the levels', () => {
    const error = refused({ subtasks: [item('a')], complexity_level: 'huge' });
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /simple, moderate, complex, very_complex/);
  });

  test('refuses dependencies that are not a list with INVALID_PLAN', () => {
    const error = refused({ subtasks: [{ ...item('a'), dependencies: 'b' }] });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /dependencies must be an array/);
  });

  test('reports several problems together in one message, coded by the first', () => {
    const error = refused({ subtasks: [{ specialist_type: 'tester' }, item('b', [], 'wizard'), item('b')] });
    assert.equal(error.code, 'INVALID_PLAN');
    assert.match(error.message, /The plan has 3 problems/);
    assert.match(error.message, /has no title/);
    assert.match(error.message, /"wizard"/);
    assert.match(error.message, /reuses task_id "b"/);
    const problems = error.data?.problems as { code: string }[];
    assert.deepEqual(problems.map((p) => p.code), ['INVALID_PLAN', 'UNKNOWN_ROLE', 'DUPLICATE_TASK_ID']);
  });

  test('reports an unknown dependency beside an unknown role, not after it is fixed', () => {
    const error = refused({ subtasks: [item('a', [], 'wizard'), item('b', ['zzz'])] });
    assert.deepEqual((error.data?.problems as { code: string }[]).map((p) => p.code), ['UNKNOWN_ROLE', 'UNKNOWN_DEPENDENCY']);
  });

  test('says nothing was stored in every plan refusal', () => {
    assert.match(refused({ subtasks: [item('a', ['zzz'])] }).message, /Nothing was stored/);
  });
});

describe('validatePlan: dependencies named by title', () => {
  const titled = (title: string, dependencies: string[] = []) => ({ title, specialist_type: 'implementer', dependencies });

  test('a dependency may be the title of a subtask that has no task_id', () => {
    const { parent, executionOrder } = planned({ subtasks: [titled('Build it', ['Design it']), titled('Design it')] });
    assert.deepEqual(parent.subtasks[0]!.dependencies, [`${PARENT}.2`]);
    assert.deepEqual(executionOrder, [`${PARENT}.2`, `${PARENT}.1`]);
  });

  test('a title matches ignoring case, outer spaces and repeated spaces', () => {
    const { parent } = planned({ subtasks: [titled('Design the  API'), titled('Build', ['  design THE api '])] });
    assert.deepEqual(parent.subtasks[1]!.dependencies, [`${PARENT}.1`]);
  });

  test('a title works beside task_id handles, and naming one subtask both ways lists it once', () => {
    const { parent } = planned({ subtasks: [item('design'), item('build', ['design', 'Do design'])] });
    assert.deepEqual(parent.subtasks[1]!.dependencies, [`${PARENT}.1`]);
  });

  test('a task_id handle wins over another subtask\'s title', () => {
    const { parent } = planned({ subtasks: [{ ...titled('build'), task_id: 'x' }, { ...titled('Compile'), task_id: 'build' }, item('ship', ['build'])] });
    assert.deepEqual(parent.subtasks[2]!.dependencies, [`${PARENT}.2`]);
  });

  test('refuses a title two subtasks share with AMBIGUOUS_DEPENDENCY naming the handles to use', () => {
    const error = refused({ subtasks: [titled('Write tests'), { ...titled('Write tests'), task_id: 'e2e' }, titled('Release', ['Write tests'])] });
    assert.equal(error.code, 'AMBIGUOUS_DEPENDENCY');
    assert.match(error.message, /subtasks\[2\] \("Release"\) depends on "Write tests", the title of 2 subtasks: subtasks\[0\] \(task_id "#1"\), subtasks\[1\] \(task_id "e2e"\)/);
    assert.match(error.message, /by its task_id/);
  });

  test('a shared title is no problem while no dependency uses it', () => {
    assert.equal(planned({ subtasks: [titled('Write tests'), titled('Write tests')] }).parent.subtasks.length, 2);
  });

  test('a subtask depending on its own title is a cycle', () => {
    assert.equal(refused({ subtasks: [titled('Loop', ['loop'])] }).code, 'DEPENDENCY_CYCLE');
  });

  test('an unknown dependency says task_ids and titles are accepted', () => {
    assert.match(refused({ subtasks: [item('a'), item('b', ['nope'])] }).message, /neither the task_id nor the title of a subtask/);
  });
});

describe('dependencyResolver and titleKey', () => {
  const items = [
    { handle: 'design', title: 'Design' },
    { handle: '#2', title: 'Test' },
    { handle: '#3', title: 'test ' },
  ];
  const resolve = dependencyResolver(items);

  test('finds a handle exactly, and only exactly', () => {
    assert.deepEqual(resolve('design'), { kind: 'found', handle: 'design' });
    assert.deepEqual(resolve('#2'), { kind: 'found', handle: '#2' });
  });

  test('finds a unique title by its key', () => {
    assert.deepEqual(resolve('DESIGN'), { kind: 'found', handle: 'design' });
  });

  test('reports a title held by several subtasks with their positions', () => {
    assert.deepEqual(resolve('test'), { kind: 'ambiguous', indexes: [1, 2] });
  });

  test('reports a name that matches nothing', () => {
    assert.deepEqual(resolve('deploy'), { kind: 'unknown' });
    assert.deepEqual(resolve(''), { kind: 'unknown' });
  });

  test('titleKey folds case and whitespace only', () => {
    assert.equal(titleKey('  Set\tUp   the DB '), 'set up the db');
    assert.notEqual(titleKey('Set-up the DB'), titleKey('Set up the DB'));
  });
});

describe('findCycle', () => {
  test('returns null for an acyclic graph', () => {
    assert.equal(findCycle(new Map([['a', []], ['b', ['a']], ['c', ['a', 'b']]])), null);
  });

  test('returns a self loop as [node, node]', () => {
    assert.deepEqual(findCycle(new Map([['a', ['a']]])), ['a', 'a']);
  });

  test('returns a longer cycle as a path ending where it starts, without the lead-in', () => {
    const graph = new Map([['x', ['a']], ['a', ['b']], ['b', ['c']], ['c', ['a']]]);
    assert.deepEqual(findCycle(graph), ['a', 'b', 'c', 'a']);
  });

  test('ignores edges to nodes outside the graph', () => {
    assert.equal(findCycle(new Map([['a', ['ghost']]])), null);
  });
});

describe('topologicalOrder', () => {
  const node = (task_id: string, dependencies: string[] = []) => ({ task_id, dependencies });

  test('keeps plan order when nothing depends on anything', () => {
    assert.deepEqual(topologicalOrder([node('c'), node('a'), node('b')]), ['c', 'a', 'b']);
  });

  test('takes the first ready task in plan order at each step', () => {
    const order = topologicalOrder([node('a'), node('b', ['d']), node('c'), node('d', ['a'])]);
    assert.deepEqual(order, ['a', 'c', 'd', 'b']);
  });

  test('places every task after all of its dependencies', () => {
    const tasks = [node('t4', ['t2', 't3']), node('t3', ['t1']), node('t2', ['t1']), node('t1')];
    const order = topologicalOrder(tasks);
    for (const t of tasks) for (const d of t.dependencies) assert.ok(order.indexOf(d) < order.indexOf(t.task_id), `${d} before ${t.task_id}`);
  });

  test('ignores dependencies on ids that are not in the list', () => {
    assert.deepEqual(topologicalOrder([node('a', ['elsewhere']), node('b')]), ['a', 'b']);
  });

  test('leaves out tasks caught in a cycle instead of looping forever', () => {
    assert.deepEqual(topologicalOrder([node('a'), node('b', ['c']), node('c', ['b'])]), ['a']);
  });
});

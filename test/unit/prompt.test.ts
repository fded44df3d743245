import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PROMPT_TEMPLATE, TEMPLATE_PLACEHOLDERS, renderSpecialistPrompt, type PromptInput } from '../../src/domain/prompt.js';
import { BUILTIN_ROLES } from '../../src/domain/builtin-roles.js';
import { parentWith, subtask } from './builders.js';

const parent = parentWith(
  [
    subtask('task_0123456789.1', { title: 'Design the API', specialist_type: 'architect', status: 'completed', results: 'REST with three endpoints', detailed_work_file: 'work/task_0123456789.1.md' }),
    subtask('task_0123456789.2', { title: 'Pick a database', specialist_type: 'researcher', status: 'active' }),
    subtask('task_0123456789.3', {
      title: 'Implement the endpoints',
      description: 'Write the handlers for the three endpoints',
      dependencies: ['task_0123456789.1', 'task_0123456789.2'],
      estimated_effort: '3 hours',
      revision_notes: ['Forgot input validation'],
    }),
  ],
  { description: 'Ship the todo API', context: 'Node 20, Fastify' },
);

const input = (fields: Partial<PromptInput> = {}): PromptInput => ({
  roleName: 'implementer',
  role: BUILTIN_ROLES.implementer!,
  parent,
  subtask: parent.subtasks[2]!,
  ...fields,
});

describe('renderSpecialistPrompt with the default template', () => {
  const prompt = renderSpecialistPrompt(input());

  test('leaves no placeholder unfilled', () => {
    assert.doesNotMatch(prompt, /\{\{|\}\}/);
  });

  test('contains the role definition, expertise, approach and output format', () => {
    const role = BUILTIN_ROLES.implementer!;
    assert.ok(prompt.includes(`${role.role_definition}.`));
    for (const line of role.expertise) assert.ok(prompt.includes(`- ${line}`), line);
    role.approach.forEach((line, i) => assert.ok(prompt.includes(`${i + 1}. ${line}`), line));
    assert.ok(prompt.includes(role.output_format));
  });

  test('contains the parent goal and context and the subtask itself', () => {
    for (const text of ['Ship the todo API', 'Node 20, Fastify', 'task_0123456789.3', 'Implement the endpoints', 'Write the handlers for the three endpoints', '3 hours']) {
      assert.ok(prompt.includes(text), text);
    }
  });

  test('includes the results of a completed dependency and its detailed_work_file', () => {
    assert.ok(prompt.includes('### Design the API (architect, task_0123456789.1)\nREST with three endpoints'));
    assert.ok(prompt.includes('Detailed work: .task_orchestrator/work/task_0123456789.1.md'));
  });

  test('says plainly that an unfinished dependency is not completed yet', () => {
    assert.ok(prompt.includes('### Pick a database (researcher, task_0123456789.2)\n(not completed yet: active)'));
  });

  test('includes earlier revision notes', () => {
    assert.ok(prompt.includes('- Forgot input validation'));
  });

  test('tells the specialist how to report back with this task_id', () => {
    assert.ok(prompt.includes('orchestrator_complete_subtask with task_id "task_0123456789.3"'));
  });
});

describe('renderSpecialistPrompt fallbacks', () => {
  const bare = parentWith([subtask('p.1')]);
  const prompt = renderSpecialistPrompt(input({ parent: bare, subtask: bare.subtasks[0]! }));

  test('says when there are no dependencies, no context, no estimate and no revisions', () => {
    assert.ok(prompt.includes('This subtask has no dependencies.'));
    assert.ok(prompt.includes('Context: none'));
    assert.ok(prompt.includes('Estimated effort: not estimated'));
    assert.ok(prompt.includes('Earlier attempts sent back for revision: none'));
  });

  test('notes a dependency missing from the plan', () => {
    const odd = parentWith([subtask('p.1', { dependencies: ['p.0'] })]);
    assert.ok(renderSpecialistPrompt(input({ parent: odd, subtask: odd.subtasks[0]! })).includes('### p.0\n(missing from the plan)'));
  });
});

describe('renderSpecialistPrompt with a custom template', () => {
  test('fills every documented placeholder', () => {
    const template = Object.keys(TEMPLATE_PLACEHOLDERS).map((name) => `${name}={{${name}}}`).join('\n');
    assert.doesNotMatch(renderSpecialistPrompt(input({ template })), /\{\{/);
  });

  test('the default template uses every documented placeholder', () => {
    for (const name of Object.keys(TEMPLATE_PLACEHOLDERS)) assert.ok(DEFAULT_PROMPT_TEMPLATE.includes(`{{${name}}}`), name);
  });

  test('does not double the full stop of a role_definition that ends with one', () => {
    const role = { ...BUILTIN_ROLES.tester!, role_definition: 'You are a tester.' };
    assert.equal(renderSpecialistPrompt(input({ role, template: '{{role_definition}}.' })), 'You are a tester.');
  });

  test('is used instead of the default', () => {
    assert.equal(renderSpecialistPrompt(input({ template: 'Do {{subtask_title}} as {{role_name}}.' })), 'Do Implement the endpoints as implementer.');
  });

  test('accepts spaces inside the braces', () => {
    assert.equal(renderSpecialistPrompt(input({ template: '{{ task_id }}' })), 'task_0123456789.3');
  });

  test('leaves unknown placeholders as they are', () => {
    assert.equal(renderSpecialistPrompt(input({ template: '{{mystery}} {{task_id}}' })), '{{mystery}} task_0123456789.3');
  });

  test('inserts values literally, without expanding "$&" or placeholders inside them', () => {
    const odd = parentWith([subtask('p.1', { title: 'Costs $& {{task_id}}' })]);
    assert.equal(renderSpecialistPrompt(input({ parent: odd, subtask: odd.subtasks[0]!, template: '[{{subtask_title}}]' })), '[Costs $& {{task_id}}]');
  });
});

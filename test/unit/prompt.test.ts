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

  test('leaves out the sections that would be empty: dependencies, context, estimate, revisions', () => {
    for (const filler of ['Results of the work this depends on', 'no dependencies', 'Context:', 'Estimated effort', 'Earlier attempts', 'none', 'not estimated']) {
      assert.ok(!prompt.includes(filler), `no "${filler}" in a prompt without it`);
    }
  });

  test('keeps every section that has something to say, with one blank line between sections', () => {
    for (const heading of ['# implementer: Title of p.1', '## Your expertise', '## Your approach', '## Overall goal (task_0123456789)', '## Your subtask (p.1)', '## Expected output', '## When you are done']) {
      assert.ok(prompt.includes(heading), heading);
    }
    assert.doesNotMatch(prompt, /\n\n\n/);
    assert.match(prompt, /## Your subtask \(p\.1\)\nDescription of p\.1\n\n## Expected output/);
  });

  test('leaves out the expertise and approach sections of a role that has none', () => {
    const role = { ...BUILTIN_ROLES.implementer!, expertise: [], approach: [] };
    const bareRole = renderSpecialistPrompt(input({ role, parent: bare, subtask: bare.subtasks[0]! }));
    assert.ok(!bareRole.includes('## Your expertise') && !bareRole.includes('## Your approach') && !bareRole.includes('(none given)'));
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

  test('leaves out a line, or a paragraph, whose placeholders are all empty, and keeps text without placeholders', () => {
    const bare = parentWith([subtask('p.1')]);
    const template = 'Title: {{subtask_title}}\nEffort: {{estimated_effort}}\n\nNotes:\n{{revision_notes}}\n{{parent_context}}\n\nStatic line\r\n\r\nEnd {{task_id}}';
    assert.equal(renderSpecialistPrompt(input({ parent: bare, subtask: bare.subtasks[0]!, template })), 'Title: Title of p.1\n\nStatic line\r\n\r\nEnd p.1');
  });

  test('keeps a line whose empty placeholder sits beside one with a value', () => {
    const bare = parentWith([subtask('p.1')]);
    assert.equal(renderSpecialistPrompt(input({ parent: bare, subtask: bare.subtasks[0]!, template: '{{task_id}} ({{estimated_effort}})' })), 'p.1 ()');
  });

  test('leaves unknown placeholders as they are', () => {
    assert.equal(renderSpecialistPrompt(input({ template: '{{mystery}} {{task_id}}' })), '{{mystery}} task_0123456789.3');
  });

  test('inserts values literally, without expanding "$&" or placeholders inside them', () => {
    const odd = parentWith([subtask('p.1', { title: 'Costs $& {{task_id}}' })]);
    assert.equal(renderSpecialistPrompt(input({ parent: odd, subtask: odd.subtasks[0]!, template: '[{{subtask_title}}]' })), '[Costs $& {{task_id}}]');
  });
});

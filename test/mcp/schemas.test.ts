/**
 * The tools as hosts and models read them: input schemas a strict host (OpenAI strict mode, Gemini)
 * converts without loss, enums and bounds where the descriptions promise them, annotations that match
 * what the tools do, and the behaviours the descriptions announce. Through the official client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ACTIVE_TASKS_PAGE } from '../../src/app/initialize-session.js';
import { MAX_STATUS_LIMIT } from '../../src/app/get-status.js';
import { ARTIFACT_TYPES, COMPLEXITY_LEVELS, NEXT_ACTIONS, SUBTASK_STATUSES } from '../../src/domain/model.js';
import { connectInProcess, inProcessProject, tempProject, type Connection, type ToolReply } from './harness.js';

type JsonSchema = Record<string, any>;

/** Every schema node with where it sits, properties, array items and union members included. */
function* nodes(schema: JsonSchema, where: string): Generator<[string, JsonSchema]> {
  yield [where, schema];
  for (const [name, child] of Object.entries<JsonSchema>(schema.properties ?? {})) yield* nodes(child, `${where}.${name}`);
  if (schema.items && typeof schema.items === 'object') yield* nodes(schema.items, `${where}[]`);
  for (const key of ['anyOf', 'oneOf', 'allOf']) for (const [i, member] of (schema[key] ?? []).entries()) yield* nodes(member, `${where}.${key}[${i}]`);
}

/** The code a refusal starts with ("CODE: message"), whichever SDK version carries the reply. */
const codeOf = (reply: ToolReply) => /^([A-Z_]+):/.exec(reply.text)?.[1];

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/python-v1');

describe('tool schemas as models and hosts read them', () => {
  let project: Awaited<ReturnType<typeof tempProject>>;
  let mcp: Connection;
  let tools: Awaited<ReturnType<Connection['client']['listTools']>>['tools'];
  const tool = (name: string) => tools.find((t) => t.name === `orchestrator_${name}`)!;
  before(async () => {
    project = await tempProject();
    mcp = await connectInProcess(project.dir);
    ({ tools } = await mcp.client.listTools());
  });
  after(async () => {
    await mcp.close();
    await project.remove();
  });

  test('every input schema converts for strict hosts: no open additionalProperties, no type lists, every property described', () => {
    assert.equal(tools.length, 8);
    for (const t of tools) {
      for (const [where, node] of nodes(t.inputSchema as JsonSchema, t.name)) {
        if ('additionalProperties' in node) assert.equal(node.additionalProperties, false, `${where}: additionalProperties must be false or absent`);
        assert.ok(!Array.isArray(node.type), `${where}: type ${JSON.stringify(node.type)} is a list`);
        for (const [name, property] of Object.entries<JsonSchema>(node.properties ?? {})) {
          assert.ok(typeof property.description === 'string' && property.description.length > 10, `${where}.${name} needs a description`);
        }
      }
    }
  });

  test('closed sets are enums and limit carries its bounds', () => {
    const input = (name: string) => tool(name).inputSchema.properties as Record<string, JsonSchema>;
    assert.deepEqual(input('plan_task').complexity_level!.enum, [...COMPLEXITY_LEVELS]);
    assert.deepEqual(input('complete_subtask').artifact_type!.enum, [...ARTIFACT_TYPES]);
    assert.deepEqual(input('complete_subtask').next_action!.enum, [...NEXT_ACTIONS]);
    assert.deepEqual(input('get_status').status!.enum, [...SUBTASK_STATUSES]);
    assert.deepEqual(
      { type: input('get_status').limit!.type, minimum: input('get_status').limit!.minimum, maximum: input('get_status').limit!.maximum },
      { type: 'integer', minimum: 1, maximum: MAX_STATUS_LIMIT },
    );
    assert.equal(input('complete_subtask').force!.type, 'boolean');
    assert.equal(input('initialize_session').cursor!.type, 'string');
  });

  test('annotations match the descriptions: the two reading tools are read-only, initialize_session is not', () => {
    for (const name of ['get_status', 'synthesize_results']) {
      assert.equal(tool(name).annotations?.readOnlyHint, true, name);
      assert.match(tool(name).description!, /Reads only/, name);
    }
    const session = tool('initialize_session');
    assert.deepEqual(
      { readOnly: session.annotations?.readOnlyHint, destructive: session.annotations?.destructiveHint, idempotent: session.annotations?.idempotentHint },
      { readOnly: false, destructive: false, idempotent: true },
    );
    assert.doesNotMatch(session.description!, /Reads only/);
  });

  describe('a value outside an enum or a bound is refused naming the field and what is allowed', () => {
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      ['complexity_level', 'orchestrator_plan_task', { description: 'x', complexity_level: 'huge', subtasks: [{ title: 'a', specialist_type: 'tester' }] }, /complexity_level\b.*"simple"\|"moderate"\|"complex"\|"very_complex"/],
      ['artifact_type', 'orchestrator_complete_subtask', { task_id: 'task_0123456789.1', results: 'x', artifact_type: 'binary' }, /artifact_type\b.*"code"\|"documentation"\|"analysis"\|"design"\|"test"\|"config"\|"general"/],
      ['limit below 1', 'orchestrator_get_status', { limit: 0 }, /limit\b.*>=1/],
      ['limit above the maximum', 'orchestrator_get_status', { limit: MAX_STATUS_LIMIT + 1 }, new RegExp(`limit\\b.*<=${MAX_STATUS_LIMIT}`)],
      ['limit not whole', 'orchestrator_get_status', { limit: 2.5 }, /limit\b.*int/],
    ];
    for (const [name, toolName, args, expected] of cases) {
      test(name, async () => {
        const reply = await mcp.call(toolName, args);
        assert.equal(reply.isError, true, `${name} should be refused`);
        assert.match(reply.text, expected);
      });
    }
  });
});

describe('the tools do what their descriptions say', () => {
  const session = inProcessProject();
  const taskFile = async (parentId: string) => JSON.parse(await readFile(path.join(session.dir, '.task_orchestrator/tasks/active', `${parentId}.json`), 'utf8'));

  test('execute_subtask sends the prompt once, as text; structured content keeps ids, dependency results and next_step', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Prompt once', subtasks: [{ task_id: 'a', title: 'Sketch', specialist_type: 'architect' }, { task_id: 'b', title: 'Make', specialist_type: 'implementer', dependencies: ['a'] }] });
    const [a, b] = plan.data.execution_order as string[];
    await session.mcp.call('orchestrator_execute_subtask', { task_id: a });
    await session.mcp.call('orchestrator_complete_subtask', { task_id: a, results: 'SKETCH RESULT' });
    const reply = await session.mcp.call('orchestrator_execute_subtask', { task_id: b });
    assert.equal(reply.isError, false, reply.text);
    assert.match(reply.text, /^# implementer: Make/);
    assert.equal(JSON.stringify(reply.data).includes('## Your subtask'), false, 'the prompt is not in structured content');
    assert.equal(reply.data.specialist_prompt, undefined);
    assert.deepEqual(
      { task_id: reply.data.task_id, parent_task_id: reply.data.parent_task_id, specialist_type: reply.data.specialist_type, status: reply.data.status },
      { task_id: b, parent_task_id: plan.data.parent_task_id, specialist_type: 'implementer', status: 'active' },
    );
    assert.deepEqual(reply.data.dependency_results.map((d: any) => [d.task_id, d.results]), [[a, 'SKETCH RESULT']]);
    assert.match(reply.data.next_step, /orchestrator_complete_subtask/);
  });

  test('plan_task takes dependencies by title, and refuses a title two subtasks share naming the handles to use', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', {
      description: 'Titles as dependencies',
      subtasks: [
        { title: 'Ship it', specialist_type: 'implementer', dependencies: ['review the code'] },
        { title: 'Review the code', specialist_type: 'reviewer', priority: 'high' },
      ],
    });
    assert.equal(plan.isError, false, plan.text);
    const [ship, review] = plan.data.subtasks;
    assert.deepEqual(ship.dependencies, [review.task_id]);
    assert.deepEqual(plan.data.execution_order, [review.task_id, ship.task_id]);
    assert.equal('priority' in (await taskFile(plan.data.parent_task_id)).subtasks[1], false, 'unknown fields of a plan item are dropped');

    const before = await readdir(path.join(session.dir, '.task_orchestrator/tasks/active'));
    const ambiguous = await session.mcp.call('orchestrator_plan_task', {
      description: 'Shared titles',
      subtasks: [
        { title: 'Write tests', specialist_type: 'tester' },
        { task_id: 'e2e', title: 'Write tests', specialist_type: 'tester' },
        { title: 'Release', specialist_type: 'implementer', dependencies: ['Write tests'] },
      ],
    });
    assert.equal(ambiguous.isError, true);
    assert.equal(codeOf(ambiguous), 'AMBIGUOUS_DEPENDENCY', ambiguous.text);
    assert.match(ambiguous.text, /task_id "#1".*task_id "e2e"/);
    assert.deepEqual(await readdir(path.join(session.dir, '.task_orchestrator/tasks/active')), before, 'nothing stored');
  });

  test('complete_subtask refuses a never-started subtask with unfinished dependencies unless force, and records the override', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Gate on complete', subtasks: [{ task_id: 'design', title: 'Design the schema', specialist_type: 'architect' }, { task_id: 'build', title: 'Build it', specialist_type: 'implementer', dependencies: ['design'] }] });
    const parentId = plan.data.parent_task_id as string;
    const [design, build] = plan.data.execution_order as [string, string];
    const before = await taskFile(parentId);

    const refused = await session.mcp.call('orchestrator_complete_subtask', { task_id: build, results: 'Built without a design' });
    assert.equal(refused.isError, true);
    assert.equal(codeOf(refused), 'UNMET_DEPENDENCIES', refused.text);
    assert.match(refused.text, new RegExp(`${design.replace('.', '\\.')} \\("Design the schema", pending\\)`));
    assert.match(refused.text, /force: true/);
    assert.deepEqual(await taskFile(parentId), before, 'a refusal changes nothing');

    const forced = await session.mcp.call('orchestrator_complete_subtask', { task_id: build, results: 'Built without a design', force: true });
    assert.equal(forced.isError, false, forced.text);
    assert.equal(forced.data.status, 'completed');
    assert.deepEqual(forced.data.forced_past_dependencies, [design]);
    assert.match(forced.text, /completed with force although .* not completed/);
    const stored = (await taskFile(parentId)).subtasks[1];
    assert.equal(stored.status, 'completed');
    assert.deepEqual(stored.forced_past_dependencies, [design]);

    const normal = await session.mcp.call('orchestrator_complete_subtask', { task_id: design, results: 'Designed' });
    assert.deepEqual(normal.data.forced_past_dependencies, []);
  });

  test('a forced execute_subtask is recorded on the subtask too', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Forced start', subtasks: [{ task_id: 'a', title: 'First', specialist_type: 'architect' }, { task_id: 'b', title: 'Second', specialist_type: 'implementer', dependencies: ['a'] }] });
    const [a, b] = plan.data.execution_order as string[];
    const reply = await session.mcp.call('orchestrator_execute_subtask', { task_id: b, force: true });
    assert.deepEqual(reply.data.forced_past_dependencies, [a]);
    assert.match(reply.text, /^Note: started with force although/);
    assert.deepEqual((await taskFile(plan.data.parent_task_id)).subtasks[1].forced_past_dependencies, [a]);
  });

  test('synthesize_results reads only: a completed task still in tasks/active/ stays there, byte for byte', async () => {
    await session.mcp.call('orchestrator_initialize_session'); // the project is open, recovery has run
    const file = path.join(session.dir, '.task_orchestrator/tasks/active/task_9f8e7d6c.json');
    await copyFile(path.join(FIXTURES, 'task_9f8e7d6c.json'), file);
    const bytes = await readFile(file);
    const reply = await session.mcp.call('orchestrator_synthesize_results', { parent_task_id: 'task_9f8e7d6c' });
    assert.equal(reply.isError, false, reply.text);
    assert.equal(reply.data.complete, true);
    assert.equal(reply.data.archived, false);
    assert.ok((await readFile(file)).equals(bytes));
  });
});

describe('initialize_session lists every unfinished task, a page at a time', () => {
  test('pages of ACTIVE_TASKS_PAGE with the total and next_cursor cover every unfinished task once', async () => {
    assert.ok(ACTIVE_TASKS_PAGE >= 10 && ACTIVE_TASKS_PAGE <= 50, 'a page is useful and a reply stays bounded');
    const project = await tempProject();
    const mcp = await connectInProcess(project.dir);
    try {
      const { tools } = await mcp.client.listTools();
      assert.match(tools.find((t) => t.name === 'orchestrator_initialize_session')!.description!, new RegExp(`${ACTIVE_TASKS_PAGE} tasks per reply.*active_task_count.*next_cursor`));
      const total = ACTIVE_TASKS_PAGE * 2 + 5;
      const created = new Set<string>();
      for (let i = 0; i < total; i++) {
        const plan = await mcp.call('orchestrator_plan_task', { description: `Task ${i}`, subtasks: [{ title: 'Only step', specialist_type: 'tester' }] });
        created.add(plan.data.parent_task_id);
      }
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await mcp.call('orchestrator_initialize_session', cursor ? { cursor } : {});
        assert.equal(page.isError, false, page.text);
        assert.equal(page.data.active_task_count, total);
        sizes.push(page.data.active_tasks.length);
        seen.push(...page.data.active_tasks.map((t: any) => t.parent_task_id));
        if (page.data.next_cursor) assert.match(page.text, new RegExp(`\\(${ACTIVE_TASKS_PAGE} of ${total}\\)`));
        cursor = page.data.next_cursor ?? undefined;
        assert.ok(sizes.length <= 5, 'the pages end');
      } while (cursor);
      assert.deepEqual(sizes, [ACTIVE_TASKS_PAGE, ACTIVE_TASKS_PAGE, 5]);
      assert.equal(new Set(seen).size, total, 'no task twice');
      assert.deepEqual(new Set(seen), created);

      const bad = await mcp.call('orchestrator_initialize_session', { cursor: 'not-a-cursor' });
      assert.equal(codeOf(bad), 'INVALID_INPUT', bad.text);
    } finally {
      await mcp.close();
      await project.remove();
    }
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { connectInProcess, inProcessProject, samplePlan, snapshot, tempProject, TOOL_NAMES } from './harness.js';

describe('the tools through the official client, in process', () => {
  const session = inProcessProject();

  test('lists the eight tools, each with a title, description, described inputs, an output schema and annotations', async () => {
    const { tools } = await session.mcp.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
    for (const tool of tools) {
      assert.ok(tool.title && tool.description && tool.description.length > 80, `${tool.name} needs a title and a real description`);
      assert.ok(tool.outputSchema, `${tool.name} needs an outputSchema`);
      assert.ok(tool.annotations && typeof tool.annotations.readOnlyHint === 'boolean', `${tool.name} needs annotations`);
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        assert.ok((schema as { description?: string }).description, `${tool.name}.${field} needs a description`);
      }
    }
    assert.equal(tools.find((t) => t.name === 'orchestrator_get_status')!.annotations!.readOnlyHint, true);
  });

  test('initialize_session creates the layout and returns guidance and the roles', async () => {
    const reply = await session.mcp.call('orchestrator_initialize_session');
    assert.equal(reply.isError, false, reply.text);
    assert.equal(reply.data.session_initialized, true);
    assert.deepEqual(Object.keys(reply.data.orchestrator_context.specialist_roles).sort(), ['architect', 'debugger', 'documenter', 'implementer', 'researcher', 'reviewer', 'tester']);
    for (const dir of ['roles', 'tasks/active', 'tasks/archive', 'locks', 'logs']) {
      assert.ok((await stat(path.join(session.dir, '.task_orchestrator', dir))).isDirectory(), dir);
    }
    assert.match(await readFile(path.join(session.dir, '.task_orchestrator/roles/default_roles.yaml'), 'utf8'), /architect:/);
  });

  test('a whole orchestration: plan, execute, complete in order, archive, synthesize', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', samplePlan);
    assert.equal(plan.isError, false, plan.text);
    const id = plan.data.parent_task_id as string;
    assert.match(id, /^task_[0-9a-f]{10}$/);
    const ids = Object.fromEntries(plan.data.subtasks.map((s: any) => [s.handle, s.task_id]));
    assert.deepEqual(plan.data.subtasks.find((s: any) => s.handle === 'build').dependencies, [ids.design]);
    assert.equal(plan.data.execution_order[0], ids.design);
    assert.ok(plan.data.execution_order.indexOf(ids.test) > plan.data.execution_order.indexOf(ids.build));

    const blocked = await session.mcp.call('orchestrator_execute_subtask', { task_id: ids.build });
    assert.equal(blocked.isError, true);
    assert.equal(blocked.error?.code, 'UNMET_DEPENDENCIES');
    assert.match(blocked.text, /Design the export/);

    const prompt = await session.mcp.call('orchestrator_execute_subtask', { task_id: ids.design });
    assert.equal(prompt.isError, false, prompt.text);
    assert.equal(prompt.data.status, 'active');
    for (const part of ['software architect', 'Add CSV export', 'packages/reports', 'Decide format and API', '30 minutes', 'orchestrator_complete_subtask']) {
      assert.ok(prompt.text.includes(part), `prompt should mention ${part}`);
    }

    const done = await session.mcp.call('orchestrator_complete_subtask', { task_id: ids.design, results: 'CSV with a header row; GET /reports/:id.csv', artifacts: ['docs/adr/7-csv.md'] });
    assert.equal(done.isError, false, done.text);
    assert.deepEqual(done.data.parent_task_progress, { parent_task_id: id, completed_subtasks: 1, total_subtasks: 4, progress_percentage: 25 });
    assert.equal(done.data.next_recommended_task.task_id, ids.build);

    const buildPrompt = await session.mcp.call('orchestrator_execute_subtask', { task_id: ids.build });
    assert.match(buildPrompt.text, /GET \/reports\/:id\.csv/, 'dependency results reach the next prompt');
    await session.mcp.call('orchestrator_complete_subtask', { task_id: ids.build, summary: 'Implemented', detailed_work: 'diff '.repeat(1000), file_paths: ['src/export.ts'] });
    const onDisk = JSON.parse(await readFile(path.join(session.dir, `.task_orchestrator/tasks/active/${id}.json`), 'utf8'));
    const build = onDisk.subtasks.find((s: any) => s.task_id === ids.build);
    assert.equal(build.status, 'completed');
    assert.deepEqual(build.artifacts, ['src/export.ts']);
    assert.match(await readFile(path.join(session.dir, '.task_orchestrator', build.detailed_work_file), 'utf8'), /^diff diff/);

    for (const handle of ['test', 'docs']) {
      await session.mcp.call('orchestrator_execute_subtask', { task_id: ids[handle] });
      const reply = await session.mcp.call('orchestrator_complete_subtask', { task_id: ids[handle], results: `${handle} done`, next_action: 'complete' });
      assert.equal(reply.isError, false, reply.text);
    }
    await assert.rejects(stat(path.join(session.dir, `.task_orchestrator/tasks/active/${id}.json`)));
    const archived = JSON.parse(await readFile(path.join(session.dir, `.task_orchestrator/tasks/archive/${id}.json`), 'utf8'));
    assert.equal(archived.status, 'completed');
    assert.equal(archived.version, '2.0');

    const synthesis = await session.mcp.call('orchestrator_synthesize_results', { parent_task_id: id });
    assert.equal(synthesis.isError, false, synthesis.text);
    assert.equal(synthesis.data.complete, true);
    assert.deepEqual(synthesis.data.by_role.map((g: any) => g.specialist_type), ['architect', 'implementer', 'tester', 'documenter']);
    assert.match(synthesis.data.report, /CSV with a header row/);

    const status = await session.mcp.call('orchestrator_get_status', { include_completed: true, parent_task_id: id });
    assert.equal(status.data.counts.completed, 4);
  });

  test('needs_revision sends a subtask back to pending with the notes; blocked records the reason', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Fix the login bug', subtasks: [{ title: 'Find the cause', specialist_type: 'debugger' }, { title: 'Review the fix', specialist_type: 'reviewer' }] });
    const [first, second] = plan.data.execution_order as string[];
    await session.mcp.call('orchestrator_execute_subtask', { task_id: first });
    const revised = await session.mcp.call('orchestrator_complete_subtask', { task_id: first, results: 'Guessed wrong: not the cookie', next_action: 'needs_revision' });
    assert.equal(revised.data.status, 'pending');
    const again = await session.mcp.call('orchestrator_execute_subtask', { task_id: first });
    assert.match(again.text, /Guessed wrong: not the cookie/);
    const blocked = await session.mcp.call('orchestrator_complete_subtask', { task_id: second, results: 'Waiting for access to the auth service', next_action: 'blocked' });
    assert.equal(blocked.data.status, 'blocked');
    const status = await session.mcp.call('orchestrator_get_status', { parent_task_id: plan.data.parent_task_id });
    assert.deepEqual(
      status.data.tasks.map((t: any) => t.status),
      ['active', 'blocked'],
    );
    const synthesis = await session.mcp.call('orchestrator_synthesize_results', { parent_task_id: plan.data.parent_task_id });
    assert.equal(synthesis.data.complete, false);
    assert.match(synthesis.data.report, /Waiting for access to the auth service/);
  });

  test('subtasks_json is accepted as the Python server took it, and a repeated completion is harmless', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Research caching', subtasks_json: JSON.stringify([{ title: 'Compare caches', specialist_type: 'Researcher' }]) });
    assert.equal(plan.isError, false, plan.text);
    const [only] = plan.data.execution_order as string[];
    const first = await session.mcp.call('orchestrator_complete_subtask', { task_id: only, results: 'Redis wins' });
    const second = await session.mcp.call('orchestrator_complete_subtask', { task_id: only, results: 'Redis wins' });
    assert.equal(first.isError, false);
    assert.equal(second.isError, false, second.text);
    assert.equal(second.data.already_recorded, true);

    const before = await snapshot(session.dir);
    const refused = await session.mcp.call('orchestrator_complete_subtask', { task_id: only, summary: 'Memcached instead', detailed_work: 'long '.repeat(1000) });
    assert.equal(refused.error?.code, 'INVALID_TRANSITION');
    const elsewhere = await session.mcp.call('orchestrator_complete_subtask', { task_id: 'zz.1', parent_task_id: 'task_nonexist', summary: 's', detailed_work: 'long '.repeat(1000) });
    assert.equal(elsewhere.error?.code, 'TASK_NOT_FOUND');
    assert.deepEqual(await snapshot(session.dir), before, 'a refused completion writes no detailed-work file');
  });

  test('get_status pages through the subtasks with a cursor', async () => {
    const subtasks = Array.from({ length: 12 }, (_, i) => ({ title: `Step ${i + 1}`, specialist_type: 'implementer' }));
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Many steps', subtasks });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await session.mcp.call('orchestrator_get_status', { parent_task_id: plan.data.parent_task_id, limit: 5, ...(cursor ? { cursor } : {}) });
      assert.ok(page.data.tasks.length <= 5);
      seen.push(...page.data.tasks.map((t: any) => t.task_id));
      cursor = page.data.next_cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, plan.data.subtasks.map((s: any) => s.task_id));
  });

  describe('bad input is refused with a code and a fix, and changes nothing on disk', () => {
    const cases: [string, string, Record<string, unknown>, string, RegExp?][] = [
      ['malformed subtasks_json', 'orchestrator_plan_task', { description: 'x', subtasks_json: '[{"title": "a",' }, 'INVALID_PLAN'],
      ['unknown role', 'orchestrator_plan_task', { description: 'x', subtasks: [{ title: 'a', specialist_type: 'wizard' }] }, 'UNKNOWN_ROLE'],
      ['unknown dependency', 'orchestrator_plan_task', { description: 'x', subtasks: [{ task_id: 'a', title: 'a', specialist_type: 'tester', dependencies: ['nope'] }] }, 'UNKNOWN_DEPENDENCY'],
      ['cyclic dependencies', 'orchestrator_plan_task', { description: 'x', subtasks: [{ task_id: 'a', title: 'a', specialist_type: 'tester', dependencies: ['b'] }, { task_id: 'b', title: 'b', specialist_type: 'tester', dependencies: ['a'] }] }, 'DEPENDENCY_CYCLE'],
      ['duplicate handle', 'orchestrator_plan_task', { description: 'x', subtasks: [{ task_id: 'a', title: 'a', specialist_type: 'tester' }, { task_id: 'a', title: 'b', specialist_type: 'tester' }] }, 'DUPLICATE_TASK_ID'],
      ['empty plan', 'orchestrator_plan_task', { description: 'x', subtasks: [] }, 'INVALID_PLAN'],
      ['bad complexity', 'orchestrator_plan_task', { description: 'x', complexity_level: 'huge', subtasks: [{ title: 'a', specialist_type: 'tester' }] }, 'INVALID_INPUT', /complexity_level.*simple.*moderate.*complex.*very_complex/],
      ['unknown id', 'orchestrator_execute_subtask', { task_id: 'task_0123456789.9' }, 'TASK_NOT_FOUND'],
      ['an id that is a path', 'orchestrator_execute_subtask', { task_id: '../../etc/passwd' }, 'INVALID_TASK_ID'],
      ['a parent id where a subtask id belongs', 'orchestrator_complete_subtask', { task_id: 'task_0123456789', results: 'x' }, 'TASK_NOT_FOUND'],
      ['a path as parent id', 'orchestrator_synthesize_results', { parent_task_id: '/etc/passwd' }, 'INVALID_TASK_ID'],
      ['missing results', 'orchestrator_complete_subtask', { task_id: 'task_0123456789.1' }, 'INVALID_INPUT'],
      ['wrong types', 'orchestrator_execute_subtask', { task_id: 42 }, 'INVALID_INPUT', /^INVALID_INPUT: task_id: expected string, received number/],
      ['unknown next_action', 'orchestrator_complete_subtask', { task_id: 'task_0123456789.1', results: 'x', next_action: 'later' }, 'INVALID_INPUT', /^INVALID_INPUT: next_action: /],
      ['a field the schema requires, missing', 'orchestrator_synthesize_results', {}, 'INVALID_INPUT', /^INVALID_INPUT: parent_task_id: /],
      ['bad cursor', 'orchestrator_get_status', { cursor: 'not-a-cursor' }, 'INVALID_INPUT'],
    ];
    for (const [name, tool, args, code, mentions] of cases) {
      test(name, async () => {
        const before = await snapshot(session.dir);
        const reply = await session.mcp.call(tool, args);
        assert.equal(reply.isError, true, `${name} should be refused`);
        assert.equal(reply.error?.code, code, reply.text);
        assert.ok(reply.text.startsWith(`${code}: `), `the text starts with the code: ${reply.text}`);
        if (mentions) assert.match(reply.text, mentions);
        assert.equal(reply.data, undefined, 'no structuredContent on a refusal');
        assert.ok(reply.text.length > 30, 'the message explains the problem');
        assert.deepEqual(await snapshot(session.dir), before, 'nothing changed on disk');
      });
    }

    test('the server keeps serving after refusing', async () => {
      const reply = await session.mcp.call('orchestrator_get_status');
      assert.equal(reply.isError, false);
    });
  });
});

describe('roles and folders', () => {
  test('custom_roles.yaml adds roles and overrides built-in fields, and is never written', async () => {
    const project = await tempProject();
    const roles = path.join(project.dir, '.task_orchestrator/roles');
    await mkdir(roles, { recursive: true });
    const custom = 'data_engineer:\n  role_definition: You are a data engineer who builds reliable pipelines\n  expertise: [ETL, SQL]\n  approach: [Measure first]\n  output_format: Pipeline code and a runbook\narchitect:\n  output_format: One ADR per decision\n';
    await writeFile(path.join(roles, 'custom_roles.yaml'), custom);
    const mcp = await connectInProcess(project.dir);
    try {
      const session = await mcp.call('orchestrator_initialize_session');
      assert.ok(session.data.orchestrator_context.specialist_roles.data_engineer);
      const plan = await mcp.call('orchestrator_plan_task', { description: 'Pipeline', subtasks: [{ title: 'Build the pipeline', specialist_type: 'data_engineer' }, { title: 'Design', specialist_type: 'architect' }] });
      assert.equal(plan.isError, false, plan.text);
      const [pipeline, design] = plan.data.execution_order;
      assert.match((await mcp.call('orchestrator_execute_subtask', { task_id: pipeline })).text, /data engineer who builds reliable pipelines/);
      const architect = (await mcp.call('orchestrator_execute_subtask', { task_id: design })).text;
      assert.match(architect, /## Expected output\nOne ADR per decision/);
      assert.match(architect, /software architect/, 'fields not overridden keep the built-in text');
      assert.equal(await readFile(path.join(roles, 'custom_roles.yaml'), 'utf8'), custom);
    } finally {
      await mcp.close();
      await project.remove();
    }
  });

  test('a role template in roles/templates reshapes that role\'s prompt', async () => {
    const project = await tempProject();
    await mkdir(path.join(project.dir, '.task_orchestrator/roles/templates'), { recursive: true });
    await writeFile(path.join(project.dir, '.task_orchestrator/roles/templates/tester.md'), 'TESTER PROMPT for {{task_id}}: {{subtask_title}}');
    const mcp = await connectInProcess(project.dir);
    try {
      const plan = await mcp.call('orchestrator_plan_task', { description: 'x', subtasks: [{ title: 'Check it', specialist_type: 'tester' }] });
      const id = plan.data.execution_order[0];
      assert.equal((await mcp.call('orchestrator_execute_subtask', { task_id: id })).text, `TESTER PROMPT for ${id}: Check it`);
    } finally {
      await mcp.close();
      await project.remove();
    }
  });

  test('Python-era config/specialists.yaml is migrated into roles/ on start', async () => {
    const project = await tempProject();
    await mkdir(path.join(project.dir, 'config/templates'), { recursive: true });
    await writeFile(path.join(project.dir, 'config/specialists.yaml'), 'architect:\n  role_definition: You are the legacy architect\n  expertise: [a]\n  approach: [b]\n  output_format: c\n');
    await writeFile(path.join(project.dir, 'config/templates/architect.md'), 'LEGACY {{task_id}}');
    const mcp = await connectInProcess(project.dir);
    try {
      await mcp.call('orchestrator_initialize_session');
      assert.match(await readFile(path.join(project.dir, '.task_orchestrator/roles/default_roles.yaml'), 'utf8'), /legacy architect/);
      assert.equal(await readFile(path.join(project.dir, '.task_orchestrator/roles/templates/architect.md'), 'utf8'), 'LEGACY {{task_id}}');
    } finally {
      await mcp.close();
      await project.remove();
    }
  });

  test('without a usable folder, tools ask for working_directory; initialize_session with it moves there', async () => {
    const project = await tempProject();
    const mcp = await connectInProcess(null);
    try {
      const refused = await mcp.call('orchestrator_get_status');
      assert.equal(refused.error?.code, 'NO_PROJECT_FOLDER');
      assert.match(refused.text, /working_directory/);
      const relative = await mcp.call('orchestrator_initialize_session', { working_directory: 'relative/path' });
      assert.equal(relative.error?.code, 'INVALID_INPUT');
      const typo = await mcp.call('orchestrator_initialize_session', { working_directory: path.join(project.dir, 'no-such-folder') });
      assert.equal(typo.error?.code, 'INVALID_INPUT');
      assert.match(typo.text, /it does not exist/);
      assert.equal((await mcp.call('orchestrator_initialize_session', { working_directory: '/' })).error?.code, 'INVALID_INPUT');
      await assert.rejects(stat(path.join(project.dir, 'no-such-folder')), 'nothing is created for a mistyped folder');
      const session = await mcp.call('orchestrator_initialize_session', { working_directory: project.dir });
      assert.equal(session.isError, false, session.text);
      assert.equal(session.data.base_dir, project.dir);
      assert.ok((await stat(path.join(project.dir, '.task_orchestrator/tasks/active'))).isDirectory());
    } finally {
      await mcp.close();
      await project.remove();
    }
  });

  test('a project folder that cannot hold .task_orchestrator gives STORAGE_ERROR with a fix, and the server keeps serving', async () => {
    const project = await tempProject();
    const blocked = path.join(project.dir, 'blocked');
    await mkdir(blocked);
    await writeFile(path.join(blocked, '.task_orchestrator'), 'a file where the folder should be');
    const mcp = await connectInProcess(blocked);
    try {
      const reply = await mcp.call('orchestrator_get_status');
      assert.equal(reply.error?.code, 'STORAGE_ERROR');
      assert.match(reply.text, /MCP_TASK_ORCHESTRATOR_BASE_DIR/);
      const moved = await mcp.call('orchestrator_initialize_session', { working_directory: project.dir });
      assert.equal(moved.isError, false, moved.text);
    } finally {
      await mcp.close();
      await project.remove();
    }
  });

  test('MCP_TASK_ORCHESTRATOR_BASE_DIR fixes the folder: working_directory cannot move it', async () => {
    const fixed = await tempProject();
    const other = await tempProject();
    const mcp = await connectInProcess(fixed.dir, { MCP_TASK_ORCHESTRATOR_BASE_DIR: fixed.dir });
    try {
      const session = await mcp.call('orchestrator_initialize_session', { working_directory: other.dir });
      assert.equal(session.data.base_dir, fixed.dir);
    } finally {
      await mcp.close();
      await fixed.remove();
      await other.remove();
    }
  });
});

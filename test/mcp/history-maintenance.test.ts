import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inProcessProject, samplePlan } from './harness.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/python-v1');
const store = (dir: string, ...parts: string[]) => path.join(dir, '.task_orchestrator', ...parts);
const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

/** Writes a task file by hand, as a person or another tool would, and tells the servers through the journal. */
async function writeByHand(dir: string, location: 'active' | 'archive', id: string, content: string): Promise<void> {
  await writeFile(store(dir, 'tasks', location, `${id}.json`), content);
  await appendFile(store(dir, 'tasks', 'journal.log'), `${id}\n`);
}

type Event = { at: string; agent: string | null; task_id: string; from: string | null; to: string; revision: number; note?: string };
const steps = (events: Event[]) => events.map((e) => `${e.task_id} ${e.from} -> ${e.to} @${e.revision}`);

describe('orchestrator_get_history', () => {
  const session = inProcessProject();

  test('an event names the agent that made it: the agent_id of the call, else the session', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Agents', subtasks: [{ title: 'One', specialist_type: 'implementer' }] });
    const [only] = plan.data.execution_order as string[];
    await session.mcp.call('orchestrator_execute_subtask', { task_id: only, agent_id: 'reviewer-2' });
    await session.mcp.call('orchestrator_complete_subtask', { task_id: only, results: 'Done', agent_id: 'reviewer-2' });
    const history = await session.mcp.call('orchestrator_get_history', { task_id: plan.data.parent_task_id });
    assert.equal(history.isError, false, history.text);
    const agents = history.data.events.map((e: { task_id: string; agent: string }) => `${e.task_id === only ? 'subtask' : 'parent'}:${e.agent}`);
    assert.match(agents[0], /^parent:session-[0-9a-f]+$/, 'the plan was made by the session');
    assert.ok(agents.includes('subtask:reviewer-2'), agents.join(', '));
    assert.ok(!agents.some((a: string) => a.startsWith('subtask:session-')), agents.join(', '));
  });
  let parent = '';
  let ids: Record<string, string> = {};

  test('records a whole orchestration in order, each event with the revision of its write, and archives it with the task', async () => {
    const call = async (tool: string, args: Record<string, unknown>) => {
      const reply = await session.mcp.call(tool, args);
      assert.equal(reply.isError, false, reply.text);
      return reply;
    };
    const plan = await call('orchestrator_plan_task', samplePlan);
    parent = plan.data.parent_task_id;
    ids = Object.fromEntries(plan.data.subtasks.map((s: any) => [s.handle, s.task_id]));
    await call('orchestrator_execute_subtask', { task_id: ids.design });
    await call('orchestrator_complete_subtask', { task_id: ids.design, results: 'CSV with a header row' });
    await call('orchestrator_execute_subtask', { task_id: ids.build });
    await call('orchestrator_complete_subtask', { task_id: ids.build, results: 'Streams break on Safari', next_action: 'needs_revision' });
    await call('orchestrator_complete_subtask', { task_id: ids.test, results: 'tests written ahead', force: true });
    await call('orchestrator_execute_subtask', { task_id: ids.build });
    await call('orchestrator_complete_subtask', { task_id: ids.build, summary: 'Implemented', detailed_work: 'diff '.repeat(1000) });
    await call('orchestrator_complete_subtask', { task_id: ids.build, summary: 'Implemented', detailed_work: 'diff '.repeat(1000) }); // a retry: nothing new
    await call('orchestrator_execute_subtask', { task_id: ids.docs });
    await call('orchestrator_complete_subtask', { task_id: ids.docs, results: 'x'.repeat(500), next_action: 'blocked' });
    await call('orchestrator_execute_subtask', { task_id: ids.docs });
    await call('orchestrator_complete_subtask', { task_id: ids.docs, results: 'docs done' });

    const reply = await call('orchestrator_get_history', { task_id: parent });
    const events: Event[] = reply.data.events;
    assert.equal(reply.data.kind, 'parent');
    assert.deepEqual(steps(events), [
      `${parent} null -> active @1`,
      `${ids.design} pending -> active @2`,
      `${ids.design} active -> completed @3`,
      `${ids.build} pending -> active @4`,
      `${ids.build} active -> pending @5`,
      `${ids.test} pending -> completed @6`,
      `${ids.build} pending -> active @7`,
      `${ids.build} active -> completed @8`,
      `${ids.docs} pending -> active @9`,
      `${ids.docs} active -> blocked @10`,
      `${ids.docs} blocked -> active @11`,
      `${ids.docs} active -> completed @12`,
      `${parent} active -> archived @12`,
    ]);
    assert.equal(reply.data.total_events, 13);
    assert.ok(events.every((e) => typeof e.agent === 'string' && e.agent.startsWith('session-')), 'the agent is the session');
    assert.ok(events.every((e, i) => i === 0 || e.at >= events[i - 1]!.at), 'times in order');
    assert.equal(events[2]!.note, 'CSV with a header row');
    assert.equal(events[4]!.note, 'needs revision: Streams break on Safari');
    assert.equal(events[5]!.note, `forced past ${ids.build}; tests written ahead`);
    assert.match(events[7]!.note!, /^detailed work: tasks\/work\/.+\.1\.md; Implemented$/);
    assert.equal(events[9]!.note!.length, 200, 'a long note is cut');
    assert.match(reply.text, /active -> archived/);

    const archived = await readJson(store(session.dir, 'tasks', 'archive', `${parent}.json`));
    assert.deepEqual(archived.history, events, 'the history is in the archived file');
    assert.equal(archived.revision, 12);
  });

  test("a subtask's history holds only its own events", async () => {
    const reply = await session.mcp.call('orchestrator_get_history', { task_id: ids.build });
    assert.equal(reply.isError, false, reply.text);
    assert.equal(reply.data.kind, 'subtask');
    assert.equal(reply.data.parent_task_id, parent);
    assert.deepEqual(steps(reply.data.events), [`${ids.build} pending -> active @4`, `${ids.build} active -> pending @5`, `${ids.build} pending -> active @7`, `${ids.build} active -> completed @8`]);
  });

  test('pages with limit and cursor, in order, without loss or repeat', async () => {
    const all = (await session.mcp.call('orchestrator_get_history', { task_id: parent })).data.events as Event[];
    const seen: Event[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await session.mcp.call('orchestrator_get_history', { task_id: parent, limit: 5, ...(cursor ? { cursor } : {}) });
      assert.equal(page.isError, false, page.text);
      assert.ok(page.data.events.length <= 5);
      seen.push(...page.data.events);
      cursor = page.data.next_cursor ?? undefined;
      assert.ok(++pages <= 3, 'the cursor moves on');
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, all);
  });

  test('refuses an unknown id and a limit out of range', async () => {
    const unknown = await session.mcp.call('orchestrator_get_history', { task_id: 'task_0123456789' });
    assert.equal(unknown.error?.code, 'TASK_NOT_FOUND');
    const limit = await session.mcp.call('orchestrator_get_history', { task_id: parent, limit: 501 });
    assert.equal(limit.error?.code, 'INVALID_INPUT');
  });

  test('a Python-era task has an empty history, and its file still loads', async () => {
    await writeByHand(session.dir, 'active', 'task_1a2b3c4d', await readFile(path.join(FIXTURES, 'task_1a2b3c4d.json'), 'utf8'));
    const reply = await session.mcp.call('orchestrator_get_history', { task_id: 'task_1a2b3c4d' });
    assert.equal(reply.isError, false, reply.text);
    assert.deepEqual(reply.data.events, []);
    assert.match(reply.text, /before history was kept/);
  });
});

describe('orchestrator_maintenance', () => {
  const session = inProcessProject();

  test('report lists a corrupt task file as a problem; repair sets it aside with a report, and the store is healthy again', async () => {
    await session.mcp.call('orchestrator_initialize_session');
    await writeFile(store(session.dir, 'tasks', 'active', 'task_00000000aa.json'), '{ "parent_task_id": ');
    const report = await session.mcp.call('orchestrator_maintenance', { action: 'report' });
    assert.equal(report.isError, false, report.text);
    assert.equal(report.data.counts.problems, 1);
    assert.equal(report.data.items[0].kind, 'corrupt_task_file');
    assert.equal(report.data.items[0].subject, 'tasks/active/task_00000000aa.json');
    assert.match(report.text, /Not healthy/);

    const repaired = await session.mcp.call('orchestrator_maintenance', { action: 'repair' });
    assert.equal(repaired.isError, false, repaired.text);
    assert.equal(repaired.data.counts.repaired, 1);
    assert.equal(repaired.data.counts.problems_left, 0);
    assert.match(repaired.data.items[0].action, /^moved to tasks\/corrupted\//);
    const aside = await readdir(store(session.dir, 'tasks', 'corrupted'));
    assert.equal(aside.length, 2, 'the file and its report');
    assert.equal(await readFile(store(session.dir, 'tasks', 'corrupted', aside.find((n) => !n.endsWith('.txt'))!), 'utf8'), '{ "parent_task_id": ', 'kept unchanged');
    const after = await session.mcp.call('orchestrator_maintenance', { action: 'report' });
    assert.equal(after.data.counts.problems, 0);
  });

  test('archive_finished moves a completed task left in tasks/active/ to the archive', async () => {
    await writeByHand(session.dir, 'active', 'task_9f8e7d6c', await readFile(path.join(FIXTURES, 'task_9f8e7d6c.json'), 'utf8'));
    const before = await session.mcp.call('orchestrator_get_status', { include_completed: true });
    assert.deepEqual(before.data.parents, { active: 1, archived: 0 });
    const reply = await session.mcp.call('orchestrator_maintenance', { action: 'archive_finished' });
    assert.equal(reply.isError, false, reply.text);
    assert.deepEqual(reply.data.items.map((i: any) => i.parent_task_id), ['task_9f8e7d6c']);
    assert.ok(await stat(store(session.dir, 'tasks', 'archive', 'task_9f8e7d6c.json')));
    await assert.rejects(stat(store(session.dir, 'tasks', 'active', 'task_9f8e7d6c.json')));
    const after = await session.mcp.call('orchestrator_get_status', { include_completed: true });
    assert.deepEqual(after.data.parents, { active: 0, archived: 1 });
    const again = await session.mcp.call('orchestrator_maintenance', { action: 'archive_finished' });
    assert.equal(again.data.total_items, 0);
  });

  test('release_expired_leases puts a subtask whose lease expired back to pending, records it, and leaves a live lease alone', async () => {
    const plan = await session.mcp.call('orchestrator_plan_task', { description: 'Two parallel steps', subtasks: [{ title: 'Left', specialist_type: 'implementer' }, { title: 'Right', specialist_type: 'implementer' }] });
    const id = plan.data.parent_task_id as string;
    const [left, right] = plan.data.execution_order as string[];
    await session.mcp.call('orchestrator_execute_subtask', { task_id: left });
    await session.mcp.call('orchestrator_execute_subtask', { task_id: right });
    const file = store(session.dir, 'tasks', 'active', `${id}.json`);
    const onDisk = await readJson(file);
    onDisk.subtasks[0].lease = { agent_id: 'agent-a', expires_at: '2020-01-01T00:00:00.000Z' };
    onDisk.subtasks[1].lease = { agent_id: 'agent-b', expires_at: '2999-01-01T00:00:00.000Z' };
    await writeByHand(session.dir, 'active', id, JSON.stringify(onDisk, null, 2));

    const reply = await session.mcp.call('orchestrator_maintenance', { action: 'release_expired_leases' });
    assert.equal(reply.isError, false, reply.text);
    assert.deepEqual(reply.data.items.map((i: any) => i.task_id), [left]);
    assert.match(reply.data.items[0].reason, /agent-a expired/);
    const after = await readJson(file);
    assert.equal(after.subtasks[0].status, 'pending');
    assert.equal(after.subtasks[0].lease, null);
    assert.equal(after.subtasks[0].active_owner, null);
    assert.equal(after.subtasks[1].status, 'active', 'an unexpired lease is kept');
    assert.deepEqual(after.subtasks[1].lease, { agent_id: 'agent-b', expires_at: '2999-01-01T00:00:00.000Z' });
    const history = await session.mcp.call('orchestrator_get_history', { task_id: left });
    assert.deepEqual(steps(history.data.events).at(-1), `${left} active -> pending @${after.revision}`);
    assert.match(history.data.events.at(-1).note, /^released: the lease of agent-a expired/);
    const again = await session.mcp.call('orchestrator_maintenance', { action: 'release_expired_leases' });
    assert.equal(again.data.total_items, 0, 'nothing left to release');
  });

  test('an action that does not exist (there is no delete) is refused and changes nothing', async () => {
    const reply = await session.mcp.call('orchestrator_maintenance', { action: 'delete' });
    assert.equal(reply.error?.code, 'INVALID_INPUT');
    assert.match(reply.text, /action/);
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectInProcess, tempProject, type Connection, type ToolReply } from './harness.js';

/** What a reply weighs on the wire, near enough: its text and its structured content. */
const weight = (reply: ToolReply) => reply.text.length + JSON.stringify(reply.data ?? {}).length;
const REPLY_BOUND = 200_000;

/** A plan as large as the limits allow: 200 subtasks with 300-character titles. */
const biggestPlan = (n: number) => ({
  description: `Plan ${n} `.padEnd(10_000, 'd'),
  context: 'c'.repeat(20_000),
  subtasks: Array.from({ length: 200 }, (_, i) => ({ title: `Step ${i} of plan ${n} `.padEnd(300, 't'), description: 'do it', specialist_type: 'implementer' })),
});

/** Replies stay bounded however much is stored: listings come in pages cut by size, reports in parts. */
describe('reply sizes with stores filled to the limits', () => {
  let project: Awaited<ReturnType<typeof tempProject>>;
  let mcp: Connection;
  const parents: string[] = [];
  before(async () => {
    project = await tempProject();
    mcp = await connectInProcess(project.dir);
    for (let n = 0; n < 20; n++) {
      const plan = await mcp.call('orchestrator_plan_task', biggestPlan(n));
      assert.equal(plan.isError, false, plan.text);
      parents.push(plan.data.parent_task_id);
    }
  });
  after(async () => {
    await mcp.close();
    await project.remove();
  });

  test('synthesize_results: 200 results of 10,000 characters come in parts, each bounded, together complete', async () => {
    const parent = parents[0]!;
    for (let i = 1; i <= 200; i++) {
      const done = await mcp.call('orchestrator_complete_subtask', { task_id: `${parent}.${i}`, results: `Result ${i}: `.padEnd(10_000, 'r'), force: true });
      assert.equal(done.isError, false, done.text);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let parts = 0;
    do {
      const reply = await mcp.call('orchestrator_synthesize_results', { parent_task_id: parent, ...(cursor ? { cursor } : {}) });
      assert.equal(reply.isError, false, reply.text);
      assert.ok(weight(reply) < REPLY_BOUND, `part ${parts + 1} weighs ${weight(reply)}`);
      for (const group of reply.data.by_role) for (const s of group.subtasks) seen.push(s.task_id);
      cursor = reply.data.next_cursor ?? undefined;
      if (cursor) assert.match(reply.text, /call orchestrator_synthesize_results with .*cursor/);
      parts++;
    } while (cursor);
    assert.ok(parts > 1);
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => `${parent}.${i + 1}`), 'every subtask exactly once, in order');
  });

  test('get_status with limit 500: the page is cut by size, and the cursor walks every row once', async () => {
    const seen = new Set<string>();
    let cursor: string | undefined;
    let first: ToolReply | undefined;
    do {
      const reply = await mcp.call('orchestrator_get_status', { limit: 500, ...(cursor ? { cursor } : {}) });
      assert.equal(reply.isError, false, reply.text);
      assert.ok(weight(reply) < REPLY_BOUND, `a page weighs ${weight(reply)}`);
      first ??= reply;
      for (const row of reply.data.tasks) {
        assert.ok(!seen.has(row.task_id), `${row.task_id} seen twice`);
        seen.add(row.task_id);
      }
      cursor = reply.data.next_cursor ?? undefined;
    } while (cursor);
    assert.ok(first!.data.tasks.length < 500, 'the first page was cut short by size');
    assert.equal(seen.size, first!.data.total_matching);
  });

  test('initialize_session: tasks with 200 subtasks each come fewer per page, each page bounded, all of them reached', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const reply = await mcp.call('orchestrator_initialize_session', cursor ? { cursor } : {});
      assert.equal(reply.isError, false, reply.text);
      assert.ok(weight(reply) < REPLY_BOUND, `a page weighs ${weight(reply)}`);
      assert.ok(reply.data.active_tasks.length < 20);
      seen.push(...reply.data.active_tasks.map((t: { parent_task_id: string }) => t.parent_task_id));
      cursor = reply.data.next_cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(new Set(seen), new Set(parents.slice(1)), 'every unfinished task once (the first was completed above)');
    assert.equal(seen.length, 19);
  });
});

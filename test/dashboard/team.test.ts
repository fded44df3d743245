/**
 * The dashboard in team mode: a server over HTTP on a PostgreSQL database shows, live, a change another
 * server made on the same database from its own folder (as on another machine).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { rawRequest, startServer, type HttpServerProcess } from '../http/harness.js';
import { tempProject } from '../mcp/harness.js';
import { freshDatabase, skipWithoutPostgres, type TestDatabase } from '../postgres/db.js';
import { independentPlan, killAllTeamServers, ok, spawnTeamServer } from '../postgres/team-servers.js';

describe('the dashboard on a team database', skipWithoutPostgres, () => {
  let db: TestDatabase | undefined;
  let project: { dir: string; remove(): Promise<void> } | undefined;
  let server: HttpServerProcess | undefined;
  after(async () => {
    await killAllTeamServers();
    await server?.kill();
    await project?.remove();
    await db?.drop();
  });

  it('lists what another server stored, and streams its changes within 2 s', async () => {
    db = await freshDatabase();
    project = await tempProject();
    server = await startServer(project.dir, { args: ['--database-url', db.url] });
    const other = await spawnTeamServer(db.url);
    const plan = ok(await other.call('orchestrator_plan_task', independentPlan('Made on another machine', 2)), 'plan on the other server');
    const parentId = plan.data.parent_task_id as string;
    const firstSubtask = (plan.data.execution_order as string[])[0]!;

    const login = await rawRequest(server.url, { method: 'GET', path: `/?token=${encodeURIComponent(server.token)}`, headers: {} });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const listed = await rawRequest(server.url, { method: 'GET', path: '/dashboard/api/parents', headers: { Cookie: cookie } });
    assert.equal(listed.status, 200, listed.body);
    assert.ok(listed.body.includes(parentId), 'the other server\'s parent is listed');

    let received = '';
    const stream = await new Promise<{ close(): void }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server!.url.port, path: '/dashboard/api/events', headers: { Cookie: cookie } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (text: string) => (received += text));
        resolve({ close: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the baseline is taken
      ok(await other.call('orchestrator_execute_subtask', { task_id: firstSubtask }), 'execute on the other server');
      const deadline = Date.now() + 2000;
      while (!received.includes(parentId) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(received, new RegExp(`event: changed\ndata: \\{"parent_task_ids":\\["${parentId}"\\]`), 'the change reached the page within 2 s');
    } finally {
      stream.close();
    }
  });
});

/**
 * The dashboard end to end in headless Chromium (Debian's chromium, driven by playwright-core): login
 * with and without the token, the list, the graph, a subtask's detail, a change made through MCP
 * appearing live, an action recorded in history, the health view with a corrupted file. Each view's
 * screenshot goes to docs/screenshots/ (the README shows them).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connectHttp, startServer, type HttpServerProcess } from '../http/harness.js';
import { samplePlan, tempProject, type Connection } from '../mcp/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '../../docs/screenshots');
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: under CI=true the browser tests must run (apt-get install -y chromium).`);
if (!available) console.log(`# dashboard browser tests skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

const HOSTILE = 'Ship <img src=x onerror="window.__xss=1"> & friends';

describe('dashboard in a browser', { skip: !available && `no ${CHROMIUM}` }, () => {
  let project: { dir: string; remove(): Promise<void> };
  let server: HttpServerProcess;
  let mcp: Connection;
  let browser: Browser;
  let page: Page;
  let parentId: string;
  let order: string[];
  let base: string;

  before(async () => {
    project = await tempProject();
    server = await startServer(project.dir);
    base = `http://127.0.0.1:${server.url.port}`;
    mcp = await connectHttp(server.url, server.token);
    const plan = await mcp.call('orchestrator_plan_task', { ...samplePlan, description: HOSTILE });
    assert.equal(plan.isError, false, plan.text);
    parentId = plan.data.parent_task_id;
    order = plan.data.execution_order;
    // A task file that is not JSON: the health view must show it.
    await writeFile(path.join(project.dir, '.task_orchestrator', 'tasks', 'active', 'task_garbage001.json'), 'this is not JSON {');
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  });
  after(async () => {
    await browser?.close();
    await mcp?.close();
    await server?.kill();
    await project?.remove();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: name === 'history' });

  it('without a session shows the token form and no task data; a wrong token is refused', async () => {
    await page.goto(`${base}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#view').textContent(), '');
    assert.ok(!(await page.content()).includes('friends'), 'no task text on the page');
    await page.fill('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    await page.locator('#login-failed').waitFor({ state: 'visible' });
    await shot('login');
  });

  it('logs in by the form', async () => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(`${base}/`);
      await fresh.fill('#token', server.token);
      await fresh.click('#login button[type=submit]');
      await fresh.locator(`[data-parent="${parentId}"]`).waitFor();
    } finally {
      await fresh.close();
    }
  });

  it('logs in by the link, drops the token from the address bar, and lists the parents with their progress, task text escaped', async () => {
    await page.goto(`${base}/?token=${encodeURIComponent(server.token)}`);
    assert.equal(page.url(), `${base}/`, 'the token is gone from the address bar');
    const row = page.locator(`[data-parent="${parentId}"]`);
    await row.waitFor();
    assert.ok((await row.locator('a').textContent())!.includes(HOSTILE.slice(0, 40)), 'the title shown as text');
    assert.equal(await page.locator('#view img').count(), 0, 'task text never becomes markup');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assert.equal(await row.locator('progress').getAttribute('max'), String(order.length));
    await page.click('button:text-is("archived")');
    await page.locator('#count:text("No tasks here.")').waitFor();
    await page.click('button:text-is("active")');
    await row.waitFor();
    await shot('list');
  });

  it('shows the subtasks as a graph layered by dependency depth', async () => {
    await page.click(`[data-parent="${parentId}"] a`);
    const nodes = page.locator('[data-subtask]');
    await nodes.first().waitFor();
    assert.equal(await nodes.count(), order.length);
    const x = async (id: string) => Number(await page.locator(`[data-subtask="${id}"] rect`).getAttribute('x'));
    assert.ok((await x(order[1]!)) > (await x(order[0]!)), 'a dependent stands right of its dependency');
    assert.match((await page.locator(`[data-subtask="${order[0]}"]`).textContent())!, /ready/);
    assert.match((await page.locator(`[data-subtask="${order[1]}"]`).textContent())!, /waiting on 1/, 'a subtask whose dependency is unfinished is not ready');
    await shot('graph');
  });

  it('shows a change made through MCP within 2 seconds, without a reload', async () => {
    const started = await mcp.call('orchestrator_execute_subtask', { task_id: order[0] });
    assert.equal(started.isError, false, started.text);
    const t0 = Date.now();
    await page.locator(`[data-subtask="${order[0]}"]:has-text("active: http-")`).waitFor({ timeout: 2000 });
    console.log(`# live update shown after ${Date.now() - t0} ms`);
  });

  it("shows a subtask's description, results and prompt as text", async () => {
    const done = await mcp.call('orchestrator_complete_subtask', { task_id: order[0], results: 'Designed <b>it</b> all' });
    assert.equal(done.isError, false, done.text);
    await page.locator(`[data-subtask="${order[0]}"]:has-text("completed")`).waitFor({ timeout: 2000 });
    await page.locator(`[data-subtask="${order[0]}"]`).focus();
    await page.keyboard.press('Enter'); // keyboard navigation: the graph's nodes are links
    await page.locator('h2:text-is("Results")').waitFor();
    assert.ok((await page.locator('#view').textContent())!.includes('Designed <b>it</b> all'));
    assert.equal(await page.locator('#view b').count(), 0);
    await page.locator('h2:text-is("Prompt")').waitFor();
    await shot('detail');
  });

  it('unblocks a blocked subtask after confirmation, recorded in history as the dashboard session', async () => {
    const next = order[1]!;
    assert.equal((await mcp.call('orchestrator_execute_subtask', { task_id: next })).isError, false);
    const blocked = await mcp.call('orchestrator_complete_subtask', { task_id: next, results: 'Needs the API key', next_action: 'blocked' });
    assert.equal(blocked.isError, false, blocked.text);
    await page.goto(`${base}/#/p/${parentId}/s/${next}`);
    await page.locator('#status:text("blocked")').waitFor();
    await page.click('button:text("Unblock")');
    await page.fill('#action-note', 'Key is in the vault now');
    await page.click('#confirm-ok');
    await page.locator('#status:text("pending")').waitFor();
    const session = await page.evaluate(async () => (await (await fetch('/dashboard/api/session')).json()).session);
    const history = await mcp.call('orchestrator_get_history', { task_id: parentId });
    const last = history.data.events.at(-1);
    assert.deepEqual([last.task_id, last.from, last.to, last.agent, last.note], [next, 'blocked', 'pending', `dashboard:${session}`, 'unblocked: Key is in the vault now']);
    await page.goto(`${base}/#/p/${parentId}`);
    await page.locator('#timeline li:has-text("unblocked: Key is in the vault now")').waitFor();
    await shot('history');
  });

  it('shows the health report with the corrupted task file', async () => {
    await page.click('nav a:text("Health")');
    await page.locator('#health-summary:text("Not healthy")').waitFor();
    assert.ok((await page.locator('table').textContent())!.includes('task_garbage001'));
    await shot('health');
  });

  it('follows the dark theme and fits a narrow window', async () => {
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${base}/#/p/${parentId}`);
    await page.locator('[data-subtask]').first().waitFor();
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(dark, light, 'another background in the dark theme');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling of the page (the graph scrolls in its box)');
    await shot('narrow-dark');
  });
});

/**
 * The dashboard at scale: a project of N active parents served by `serve --http`, opened in headless
 * Chromium. Measures the time from navigation to the first rows of the list (first render), and from
 * an MCP change's reply to the change shown on the page (live-update delay). Skipped, with no rows,
 * when /usr/bin/chromium is missing.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { chromium } from 'playwright-core';
import { idMaker, makeParent, rng, writeParents } from './generate.js';
import { CLI } from './mcp.js';
import type { Row } from './report.js';

const CHROMIUM = '/usr/bin/chromium';
export const DASHBOARD_RENDER_TARGET_MS = 2000;
export const DASHBOARD_LIVE_TARGET_MS = 2000;

export interface DashboardRun {
  parents: number;
  firstRenderMs: number[];
  liveDelayMs: number[];
}

export async function runDashboard(parents: number, rounds: number, workDir: string, progress: (m: string) => void): Promise<DashboardRun | null> {
  if (!existsSync(CHROMIUM)) {
    progress(`dashboard phase skipped: no ${CHROMIUM}`);
    return null;
  }
  const dir = path.join(workDir, 'dashboard');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const random = rng(14);
  const nextId = idMaker(random);
  await writeParents(dir, Array.from({ length: parents }, () => ({ parent: makeParent(random, 'active', nextId()), kind: 'active' as const })));
  progress(`dashboard phase: ${parents} parents written; serving`);
  const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', '--base-dir', dir], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: withoutToken() });
  const exited = new Promise((resolve) => child.on('close', resolve));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const deadline = Date.now() + 60_000;
    while (!/dashboard at (\S+)/.test(stderr) && Date.now() < deadline) await sleep(50);
    const base = /dashboard at (\S+)/.exec(stderr)?.[1];
    if (!base) throw new Error(`serve --http printed no address: ${stderr}`);
    const token = (await readFile(path.join(dir, '.task_orchestrator', 'http-token'), 'utf8')).trim();
    const mcp = new Client({ name: 'bench-dashboard', version: '1' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const run: DashboardRun = { parents, firstRenderMs: [], liveDelayMs: [] };
    for (let i = 0; i < rounds; i++) {
      const page = await browser.newPage();
      const t0 = performance.now();
      await page.goto(`${base}?token=${encodeURIComponent(token)}`);
      await page.locator('[data-parent]').first().waitFor({ timeout: 30_000 });
      run.firstRenderMs.push(performance.now() - t0);
      const planned = (await mcp.callTool({ name: 'orchestrator_plan_task', arguments: { description: `Bench round ${i}`, subtasks: [{ title: 'Only step', description: 'x', specialist_type: 'implementer' }] } })) as { structuredContent: { parent_task_id: string; execution_order: string[] } };
      const { parent_task_id: id, execution_order: order } = planned.structuredContent;
      await page.goto(`${base}#/p/${id}`);
      await page.locator(`[data-subtask="${order[0]}"]`).waitFor({ timeout: 30_000 });
      await sleep(1200); // the stream is connected and its baseline taken
      await mcp.callTool({ name: 'orchestrator_execute_subtask', arguments: { task_id: order[0] } });
      const t1 = performance.now();
      await page.locator(`[data-subtask="${order[0]}"]:has-text("active:")`).waitFor({ timeout: 30_000 });
      run.liveDelayMs.push(performance.now() - t1);
      await page.close();
    }
    await mcp.close();
    return run;
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export function dashboardRows(run: DashboardRun | null): Row[] {
  if (!run) return [];
  const at = `${run.parents.toLocaleString('en-US')} parents`;
  const render = median(run.firstRenderMs);
  const live = median(run.liveDelayMs);
  return [
    { label: `Dashboard first render @ ${at}`, value: `median ${render.toFixed(0)} ms`, ratio: '', target: `<= ${DASHBOARD_RENDER_TARGET_MS} ms`, result: render <= DASHBOARD_RENDER_TARGET_MS ? 'PASS' : 'MISS', note: `navigation with ?token= to the first rows of the list (login redirect, page, script, first page of 50); n=${run.firstRenderMs.length}, headless Chromium` },
    { label: `Dashboard live-update delay @ ${at}`, value: `median ${live.toFixed(0)} ms`, ratio: '', target: `<= ${DASHBOARD_LIVE_TARGET_MS} ms`, result: live <= DASHBOARD_LIVE_TARGET_MS ? 'PASS' : 'MISS', note: `execute_subtask's reply to the graph showing the subtask active (1 s polling, SSE, refetch); n=${run.liveDelayMs.length}` },
  ];
}

/** The token file is read: one from the shell running the bench would not be. */
function withoutToken(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MCP_TASK_ORCHESTRATOR_HTTP_TOKEN;
  return env;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (import.meta.url === `file://${process.argv[1]}`) {
  const smoke = process.argv.includes('--smoke');
  const run = await runDashboard(smoke ? 20 : 10_000, smoke ? 1 : 5, path.join(import.meta.dirname, '.work', 'dashboard-only'), (m) => process.stderr.write(`${m}\n`));
  for (const row of dashboardRows(run)) process.stdout.write(`${row.label}: ${row.value} (target ${row.target}: ${row.result}); ${row.note}\n`);
}

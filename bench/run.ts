/**
 * npm run bench: drives the real server (dist/cli/main.js serve) over stdio with the official MCP
 * client and prints a table of figures with PASS/MISS against the targets of issues 5 and 12, written also to
 * bench/results.md with the machine it ran on. `--smoke` (or BENCH_SMOKE=1) runs every phase at a tiny
 * scale with a few iterations, so CI can check that the bench still works; its figures mean nothing.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { fullConfig, smokeConfig, type BenchConfig } from './config.js';
import { runContention } from './contention.js';
import { runHttp } from './http.js';
import { runLeases } from './leases.js';
import { CLI, ROOT } from './mcp.js';
import { runPerTool } from './per-tool.js';
import { runPostgres } from './postgres.js';
import { postgresRows, renderComparison } from './postgres-report.js';
import { buildRows, renderMarkdown, renderTable } from './report.js';
import { encryptionRows, runEncryptionAtRest } from './encryption-at-rest.js';
import { dashboardRows, runDashboard } from './dashboard.js';
import { FULL_SAFETY, runSafetyMicro, safetyRows, SMOKE_SAFETY } from './safety.js';
import { prepareScales, runColdStarts, runScaleWorkload, type ScaleResult } from './scale.js';

const BENCH_DIR = path.join(ROOT, 'bench');

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const smoke = argv.includes('--smoke') || ['1', 'true', 'yes'].includes((process.env.BENCH_SMOKE ?? '').toLowerCase());
  const keep = argv.includes('--keep');
  const config: BenchConfig = smoke ? smokeConfig : fullConfig;
  const started = new Date();
  const loadBefore = os.loadavg();
  const t0 = performance.now();
  const progress = (message: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);

  if (!existsSync(CLI)) throw new Error(`${path.relative(ROOT, CLI)} is missing: run "npm run build" first (npm run bench does).`);
  const workDir = path.join(BENCH_DIR, '.work', smoke ? 'smoke' : 'full');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const minimalServer = await compileMinimalServer(workDir);

  progress(`${smoke ? 'smoke' : 'full'} run; floor and per-tool phase (${config.toolRounds} rounds)`);
  const perTool = await runPerTool(config, workDir, minimalServer, progress);

  const { data, meanFileBytes, seconds } = await prepareScales(config, workDir, progress);
  progress(`task files written in ${seconds.toFixed(1)} s`);
  const coldStarts = await runColdStarts(config, data, minimalServer, progress);
  const scales: ScaleResult[] = [];
  for (const [i, d] of data.entries()) scales.push({ ...(await runScaleWorkload(config, d, progress)), coldStarts: coldStarts.perScale[i]! });
  if (!keep) for (const d of data) await rm(d.dir, { recursive: true, force: true });

  const contention = await runContention(config, workDir, progress);

  const leases = await runLeases(config, workDir, progress);

  const safety = await runSafetyMicro(smoke ? SMOKE_SAFETY : FULL_SAFETY, workDir, progress);

  const encryption = await runEncryptionAtRest(smoke ? 3 : 100, workDir, progress);
  // Team mode: null (with a printed line) when no PostgreSQL answers.
  const postgres = await runPostgres(config, workDir, minimalServer, progress);
  const http = await runHttp(config, workDir, progress);
  const skipped = http.postgresSkipped ? [`HTTP on PostgreSQL: ${http.postgresSkipped}`] : [];

  // No rows without /usr/bin/chromium (it says so): like PostgreSQL's, these rows are not required.
  const dashboard = await runDashboard(smoke ? 20 : 10_000, smoke ? 1 : 5, workDir, progress);

  const rows = [...buildRows({ perTool, coldStarts, scales, contention, leases, http }), ...safetyRows(safety), ...encryptionRows(encryption), ...(postgres ? postgresRows(postgres) : []), ...dashboardRows(dashboard)];
  const comparison = postgres ? `\n## The two stores side by side (same run)\n\n${renderComparison(postgres, perTool, contention)}\n` : '';
  const elapsed = (performance.now() - t0) / 1000;
  const markdown = renderMarkdown(config, rows, { started, seconds: elapsed, workDir: path.relative(ROOT, workDir), meanFileBytes, loadBefore, skipped }) + comparison;
  const out = path.join(BENCH_DIR, config.resultsFile);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, markdown);
  process.stdout.write(`${renderTable(rows)}\n${comparison}\n`);
  for (const line of skipped) process.stdout.write(`Skipped: ${line}\n`);
  const missed = rows.filter((r) => r.result === 'MISS');
  process.stdout.write(`${rows.filter((r) => r.result === 'PASS').length} PASS, ${missed.length} MISS. Written to ${path.relative(process.cwd(), out)} in ${elapsed.toFixed(0)} s.\n`);
}

/** Compiles bench/minimal-server.ts to plain JavaScript, so it starts like the real server (from compiled code). */
async function compileMinimalServer(workDir: string): Promise<string> {
  const source = await readFile(path.join(BENCH_DIR, 'minimal-server.ts'), 'utf8');
  const output = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  // Inside bench/ so that its imports resolve from the project's node_modules.
  const file = path.join(workDir, 'minimal-server.mjs');
  await writeFile(file, output.outputText);
  return file;
}

await main().catch((error: Error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});

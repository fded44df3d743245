/**
 * npm run conformance: the official MCP conformance suite against `task-orchestrator serve --http`.
 *
 * Builds nothing (npm run conformance builds first). Starts the real server on a fresh temporary project
 * (a free port, a random token), puts a forwarding proxy in front of it that adds the bearer token (the
 * suite's client sends none; the server keeps its authentication on), runs every server scenario of the
 * pinned suite, and compares the results with conformance/expected-failures.yaml: a failure not listed
 * there, or a listed scenario that passes now, fails the run. docs/conformance.md explains each entry.
 *
 *   npm run conformance                      # the whole suite
 *   npm run conformance -- --scenario ping   # one scenario (the baseline is then checked for it alone)
 *   CONFORMANCE_VERBOSE=1 npm run conformance   # on unexpected results, also the suite's output and the server's stderr
 *
 * Exit code 0: the results match the baseline; 1: they do not; 2: the run itself failed (download,
 * server start, timeout). Every process it starts is stopped by pid, also on failure, timeout or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAuthProxy, type AuthProxy } from './conformance/auth-proxy.js';
import { judge, parseExpectedFailures, type Check, type ScenarioResult, type Verdict } from './conformance/baseline.js';

/** Pinned: the suite's latest release, and the Node it needs (it calls fs.globSync, new in Node 22). */
const SUITE_PACKAGE = '@modelcontextprotocol/conformance@0.1.16';
const NODE_PACKAGE = 'node@22.23.3';
/** The suite's pending scenarios too: docs/conformance.md records every scenario, so CI checks every one. */
const SUITE = 'all';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const BASELINE = path.join(ROOT, 'conformance', 'expected-failures.yaml');
const DOWNLOAD_TIMEOUT_MS = 180_000;
/** The scenarios take about 10 s; a hung one must not hang CI. CONFORMANCE_TIMEOUT_SECONDS overrides it. */
const SUITE_TIMEOUT_MS = (Number(process.env.CONFORMANCE_TIMEOUT_SECONDS) || 300) * 1000;
const SERVER_START_TIMEOUT_MS = 15_000;

/** What is running, so that any way out (error, timeout, signal) stops it. */
const running = new Set<ChildProcess>();
let proxy: AuthProxy | null = null;
/** The run's temporary folder: the server's project and the suite's results, side by side. */
let workDir: string | null = null;
let serverStderr = '';
/** Set once a signal asked it to stop: nothing new is started (no retry either). */
let stopping = false;

class RunError extends Error {}

async function main(argv: string[]): Promise<number> {
  const only = optionValue(argv, '--scenario');
  if (!existsSync(CLI)) throw new RunError(`${path.relative(ROOT, CLI)} is missing: run "npm run build" first (npm run conformance does).`);
  const started = performance.now();
  const expected = parseExpectedFailures(await readFile(BASELINE, 'utf8'), path.relative(ROOT, BASELINE));

  const listing = await withRetry('download the suite and list its scenarios', () => suite(['list', '--server'], DOWNLOAD_TIMEOUT_MS));
  const scenarios = only ? [only] : serverScenarios(listing);
  if (only && !serverScenarios(listing).includes(only)) throw new RunError(`--scenario ${only}: the suite has no such server scenario; it has ${serverScenarios(listing).join(', ')}.`);
  const downloaded = performance.now();

  workDir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-conformance-'));
  const project = path.join(workDir, 'project');
  await mkdir(project);
  const token = randomBytes(32).toString('base64url');
  const serverUrl = await startServer(project, token);
  proxy = await startAuthProxy(serverUrl, token);
  const url = `${proxy.origin}${serverUrl.pathname}`;
  log(`server at ${serverUrl.href} (token on), suite talks to ${url} through the auth proxy`);

  const outDir = path.join(workDir, 'results');
  const args = ['server', '--url', url, '-o', outDir, ...(only ? ['--scenario', only] : ['--suite', SUITE])];
  const output = await suite(args, SUITE_TIMEOUT_MS, { allowFailure: true });
  const results = await readResults(outDir, scenarios);
  const suiteSeconds = (performance.now() - downloaded) / 1000;

  const verdict = judge(results, only ? expected.filter((s) => s === only) : expected);
  if (!verdict.ok && process.env.CONFORMANCE_VERBOSE) process.stdout.write(`--- the suite's output ---\n${output}\n--- the server's stderr (tail) ---\n${tail(serverStderr)}\n`);
  printSummary(verdict, { download: (downloaded - started) / 1000, suite: suiteSeconds, total: (performance.now() - started) / 1000 });
  return verdict.ok ? 0 : 1;
}

/** `npx conformance ...` with the pinned suite on the pinned Node; resolves with its output. */
function suite(args: string[], timeoutMs: number, options: { allowFailure?: boolean } = {}): Promise<string> {
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  return run(npx, ['-y', '-p', NODE_PACKAGE, '-p', SUITE_PACKAGE, 'conformance', ...args], { timeoutMs, allowFailure: options.allowFailure ?? false, what: `conformance ${args[0]}` });
}

/**
 * Runs a command in its own process group (npx starts node, which starts the suite: a timeout must stop
 * them all), collecting stdout and stderr. Rejects on timeout, and on a non-zero exit unless allowed
 * (the suite exits 1 whenever a scenario fails; the baseline decides what that means).
 */
function run(command: string, args: string[], options: { timeoutMs: number; allowFailure: boolean; what: string }): Promise<string> {
  if (stopping) return Promise.reject(new RunError(`${options.what}: not started, the run is stopping`));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, npm_config_yes: 'true', NO_COLOR: '1' } });
    running.add(child);
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      stopGroup(child);
      reject(new RunError(`${options.what} did not finish within ${options.timeoutMs / 1000} s; its output:\n${tail(output)}`));
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new RunError(`cannot start ${command}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (signal) reject(new RunError(`${options.what} was stopped (${signal})`));
      else if (code === 0 || options.allowFailure) resolve(output);
      else reject(new RunError(`${options.what} exited with ${code}; its output:\n${tail(output)}`));
    });
  });
}

/** The registry can hiccup: one retry for the download, never for the tests themselves. */
async function withRetry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (stopping) throw error;
    log(`could not ${what} (${firstLine((error as Error).message)}); retrying once`);
    return attempt();
  }
}

/** The names `conformance list --server` prints, one per line as "  - name [versions]". */
function serverScenarios(listing: string): string[] {
  return [...listing.matchAll(/^\s+- ([a-z0-9][a-z0-9-]*)\b/gm)].map((m) => m[1]!);
}

/** Starts `serve --http --port 0` on the project; resolves with the URL it prints on stderr. */
async function startServer(dir: string, token: string): Promise<URL> {
  if (stopping) throw new RunError('serve --http: not started, the run is stopping');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MCP_TASK_ORCHESTRATOR_')) delete env[key];
  env.MCP_TASK_ORCHESTRATOR_HTTP_TOKEN = token;
  const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.on('close', () => running.delete(child));
  child.stderr!.on('data', (c: Buffer) => (serverStderr = (serverStderr + c.toString()).slice(-20_000)));
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const printed = /serving MCP over HTTP at (\S+)/.exec(serverStderr);
    if (printed && /bearer token from/.test(serverStderr)) return new URL(printed[1]!);
    if (child.exitCode !== null) throw new RunError(`serve --http exited with ${child.exitCode} before listening:\n${tail(serverStderr)}`);
    await sleep(25);
  }
  throw new RunError(`serve --http printed no URL within ${SERVER_START_TIMEOUT_MS / 1000} s:\n${tail(serverStderr)}`);
}

/** Each scenario's checks.json under <dir>/server-<scenario>-<timestamp>/; null for a scenario that left none. */
async function readResults(dir: string, scenarios: string[]): Promise<ScenarioResult[]> {
  const folders = existsSync(dir) ? await readdir(dir) : [];
  const byScenario = new Map<string, string>();
  for (const folder of folders) {
    const name = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(folder)?.[1];
    if (name) byScenario.set(name, folder);
  }
  return Promise.all(
    scenarios.map(async (scenario) => {
      const folder = byScenario.get(scenario);
      if (!folder) return { scenario, checks: null };
      try {
        return { scenario, checks: JSON.parse(await readFile(path.join(dir, folder, 'checks.json'), 'utf8')) as Check[] };
      } catch {
        return { scenario, checks: null };
      }
    }),
  );
}

function printSummary(verdict: Verdict, seconds: { download: number; suite: number; total: number }): void {
  const shown = { pass: 'pass', fail: 'FAIL', 'not-applicable': 'n/a' } as const;
  const rows = verdict.outcomes.map((o) => [o.scenario, shown[o.status], `${o.succeeded}/${o.succeeded + o.failed + o.warnings}`, o.expectedToFail ? 'expected to fail' : '', o.why]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 8));
  for (const r of rows) process.stdout.write(`${r.slice(0, 4).map((c, i) => c.padEnd(widths[i]!)).join('  ')}  ${r[4]}\n`);
  const count = (status: string) => verdict.outcomes.filter((o) => o.status === status).length;
  const expectedFails = verdict.outcomes.filter((o) => o.status === 'fail' && o.expectedToFail).length;
  process.stdout.write(`\n${count('pass')} of ${verdict.outcomes.length} scenarios pass, ${count('not-applicable')} not applicable (only informational checks); ${expectedFails} fail as expected (conformance/expected-failures.yaml, explained in docs/conformance.md).\n`);
  if (verdict.unexpectedFailures.length) process.stdout.write(`NEW FAILURES (not in the baseline): ${verdict.unexpectedFailures.join(', ')}. Fix them, or if one cannot pass against this server, add it to the baseline and explain why in docs/conformance.md.\n`);
  if (verdict.stalePasses.length) process.stdout.write(`STALE BASELINE (these no longer fail): ${verdict.stalePasses.join(', ')}. Remove them from conformance/expected-failures.yaml and docs/conformance.md.\n`);
  if (verdict.unknownEntries.length) process.stdout.write(`UNKNOWN BASELINE ENTRIES (no such scenario ran): ${verdict.unknownEntries.join(', ')}. Remove or rename them.\n`);
  process.stdout.write(`${verdict.ok ? 'Conformance: as expected' : 'Conformance: NOT as expected'}; ${seconds.total.toFixed(1)} s (suite download or cache check ${seconds.download.toFixed(1)} s, server and scenarios ${seconds.suite.toFixed(1)} s).\n`);
}

/** Stops everything this run started: the suite's process group, the proxy, the server (SIGTERM, then SIGKILL), the project. */
async function cleanUp(): Promise<void> {
  await Promise.all([...running].map((child) => stop(child)));
  await proxy?.close().catch(() => undefined);
  if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  if (child.spawnargs.includes(CLI)) child.kill('SIGTERM');
  else stopGroup(child);
  const killed = setTimeout(() => (child.spawnargs.includes(CLI) ? child.kill('SIGKILL') : stopGroup(child, 'SIGKILL')), 10_000);
  await closed;
  clearTimeout(killed);
}

/** Signals the process group the child leads (it was spawned detached): npx and the Node it started. */
function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function optionValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

const log = (message: string) => process.stderr.write(`[conformance] ${message}\n`);
const tail = (text: string) => text.split('\n').slice(-30).join('\n');
const firstLine = (text: string) => text.split('\n')[0] ?? '';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      log(`${signal}: stopping everything it started`);
      void cleanUp().finally(() => process.exit(2));
    });
  }
  let code = 2;
  try {
    code = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`conformance run failed: ${error instanceof RunError ? error.message : (error as Error).stack}\n`);
  } finally {
    await cleanUp();
  }
  process.exit(code);
}

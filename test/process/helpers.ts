/** Shared by the process tests: temp projects, worker processes that are always reaped, folder listings. */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tempFileOwnerPid } from '../../src/store/file/durable-fs.js';
import { isSpareLockFile } from '../../src/store/file/lock.js';
import { tempWriterOf } from '../../src/store/file/owner.js';

import { readLines } from './workers/lines.js';

export { seededRandom } from './workers/random.js';

/** The package root: workers run with it as cwd so that `--import tsx` resolves. */
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const WORKERS = path.join(ROOT, 'test', 'process', 'workers');

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `orchestrator-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface Worker {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  /** Complete stdout lines so far (a line cut off by a kill is not included). */
  lines: string[];
  stderr(): string;
  /** Resolves with the first line (from the start) that matches; rejects on timeout or exit. */
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  send(line: string): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then wait until the process is reaped. */
  kill(): Promise<void>;
}

const live = new Set<Worker>();

/**
 * Starts test/process/workers/<name>.ts under tsx, or its bundle made by bundleWorker (much quicker to
 * start). Every worker is tracked so killAll() can reap it.
 */
export function startWorker(name: string, args: string[], options: { env?: NodeJS.ProcessEnv; bundle?: string | null; wrap?: string[] } = {}): Worker {
  const entry = options.bundle ? [options.bundle] : ['--import', 'tsx', path.join(WORKERS, `${name}.ts`)];
  // `wrap` runs the worker under another command (unshare, faketime) that ends by running node.
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
  const child = spawn(command!, [...prefix, ...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readLines(child.stdout, (parts) => {
    lines.push(...parts);
    for (const wake of [...waiters]) wake();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => undefined); // writing to a worker that just died
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(worker);
      for (const wake of [...waiters]) wake();
      resolve(exitInfo);
    });
  });
  const worker: Worker = {
    child,
    pid: child.pid ?? -1,
    lines,
    stderr: () => stderr,
    waitForLine(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => match.test(l));
          if (found !== undefined) return done(() => resolve(found));
          if (exitInfo) return done(() => reject(new Error(`worker ${name} (pid ${child.pid}) exited (${JSON.stringify(exitInfo)}) before printing ${match}; stderr:\n${stderr}\nstdout:\n${lines.join('\n')}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`worker ${name} (pid ${child.pid}) printed no line matching ${match} within ${timeoutMs} ms; stderr:\n${stderr}\nstdout:\n${lines.slice(-20).join('\n')}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    send(line) {
      if (child.stdin.writable) child.stdin.write(`${line}\n`);
    },
    exited,
    async kill() {
      if (!exitInfo) child.kill('SIGKILL');
      await exited;
    },
  };
  live.add(worker);
  return worker;
}

/**
 * Bundles a worker and the current sources into one plain .mjs file in `outDir` with esbuild (which tsx
 * brings along): it starts in a fraction of the time tsx takes to register, which matters for tests
 * that start dozens of processes. Null when esbuild is not available; then run the worker under tsx.
 */
export async function bundleWorker(name: string, outDir: string): Promise<string | null> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  // src/version.ts reads ../package.json beside its module: the bundle goes one folder down, with a copy above it.
  const outfile = path.join(outDir, 'bundle', `${name}.mjs`);
  await copyFile(path.join(ROOT, 'package.json'), path.join(outDir, 'package.json'));
  await esbuild.build({
    entryPoints: [path.join(WORKERS, `${name}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // CommonJS dependencies (yaml) call require(); give the ES module bundle one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return outfile;
}

/**
 * A worker in a new PID namespace of its own (it is pid 1 there, with its own /proc), as in a container.
 * unshare forks it and waits; --kill-child takes it down when unshare is killed.
 */
export const IN_NEW_PID_NAMESPACE = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];

/** Why namespace tests cannot run here, or null: they need unshare and the right to use it (root). */
export function namespacesUnavailable(): string | null {
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
  return probe.status === 0 ? null : 'unshare --pid --fork --mount-proc does not work here (util-linux missing or not root)';
}

/** The host pid of the process a wrapper (unshare --fork) started: the one to SIGSTOP. */
export function childPidOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  if (children.length !== 1) throw new Error(`expected one child of ${pid}, found [${children.join(', ')}]`);
  return children[0]!;
}

/** Kills and reaps every worker still running (for finally blocks). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((w) => w.kill()));
}

/** Waits for a worker's normal end and fails with its output if it did not exit with 0. */
export async function expectCleanExit(worker: Worker, what: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (pid ${worker.pid}) did not finish within ${timeoutMs} ms; stderr:\n${worker.stderr()}\nlast stdout:\n${worker.lines.slice(-10).join('\n')}`)), timeoutMs);
  });
  try {
    const { code, signal } = await Promise.race([worker.exited, timeout]);
    if (code !== 0) throw new Error(`${what} (pid ${worker.pid}) exited with ${code ?? signal}; stderr:\n${worker.stderr()}\nlast stdout:\n${worker.lines.slice(-10).join('\n')}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A pid that surely belongs to no process: one of a child that has exited and been reaped. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

/** What a folder holds, besides this process's own spare lock files (its open stores keep them until closed). */
export async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => !isOwnSpare(name)).sort();
}

function isOwnSpare(name: string): boolean {
  return isSpareLockFile(name) && tempWriterOf(name)?.pid === process.pid;
}

/** Temp files of durable writes (".<target>.<pid>.<hex>.tmp") anywhere under a folder. */
export async function tempFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if ((tempFileOwnerPid(entry.name) !== null || entry.name.endsWith('.tmp')) && !isOwnSpare(entry.name)) found.push(full);
    }
  };
  await walk(dir);
  return found;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A server whose client (its host) goes away must exit within seconds, with a small log that says
 * why. The old server, when its host was killed, failed to write to stderr, logged that failure to
 * stderr, and so on: 60 % CPU and 15 MB of log a second until the disk was full.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { layoutFor } from '../../src/store/file/layout.js';
import { killAll, ROOT, sleep, startWorker, tempDir } from './helpers.js';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const EXIT_WITHIN_MS = 5_000;
const SMALL_LOG_BYTES = 8 * 1024;

/** Running, and not a zombie waiting for a parent (or init) to reap it. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (!isRunning(pid)) return Date.now() - start;
    await sleep(25);
  }
  return null;
}

const scenarios = [
  { name: 'the host is killed (stdin, stdout and stderr close at once)', act: 'kill', reason: /Shutting down: stdin (ended|closed)/ },
  { name: 'the host stops reading stdout (EPIPE on stdout)', act: 'close stdout', reason: /Shutting down: writing to stdout failed \(EPIPE\)/ },
  { name: 'the host stops reading stderr (EPIPE on stderr)', act: 'close stderr', reason: /Shutting down: writing to stderr failed \(EPIPE\)/ },
] as const;

for (const scenario of scenarios) {
  test(`${scenario.name}: the server exits within ${EXIT_WITHIN_MS / 1000} s, its log stays small and says why`, { timeout: 60_000 }, async () => {
    const project = await tempDir('host-death');
    let serverPid = -1;
    try {
      const host = startWorker('mcp-host', [CLI, project.dir]);
      serverPid = Number((await host.waitForLine(/^server \d+$/, 30_000)).split(' ')[1]);
      await host.waitForLine(/^ready$/, 30_000);
      if (scenario.act === 'kill') await host.kill();
      else host.send(scenario.act);

      const tookMs = await waitUntilGone(serverPid, EXIT_WITHIN_MS);
      const log = path.join(layoutFor(project.dir).logsDir, 'orchestrator.log');
      const size = (await stat(log)).size;
      assert.notEqual(tookMs, null, `server ${serverPid} still runs ${EXIT_WITHIN_MS} ms later; its log has grown to ${size} bytes`);
      assert.ok(size < SMALL_LOG_BYTES, `the log has ${size} bytes`);
      assert.match(await readFile(log, 'utf8'), scenario.reason);
    } finally {
      if (serverPid > 0 && isRunning(serverPid)) process.kill(serverPid, 'SIGKILL');
      await killAll();
      await project.remove();
    }
  });
}

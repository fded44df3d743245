/**
 * The logger queues lines and writes them once the current turn of the event loop is over, so that a
 * tool's answer never waits for its log line. Queued lines must still reach stderr and the log file
 * when the process ends at once, with process.exit() right after logging (a fatal error, say). And
 * when whoever read stderr is gone (the MCP client died), logging must not feed on its own failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FileLogger } from '../../src/storage/logger.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

test('lines logged just before process.exit() reach stderr and logs/orchestrator.log', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-logger-'));
  try {
    const script = [
      `import { FileLogger } from ${JSON.stringify(path.join(ROOT, 'src', 'storage', 'logger.ts'))};`,
      'const logger = new FileLogger();',
      `logger.attach(${JSON.stringify(dir)});`,
      "logger.warn('first line', { n: 1 });",
      "logger.error('last words before exit');",
      'process.exit(3);',
    ].join('\n');
    const child = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT }).catch((error: { code: number; stderr: string }) => error);
    assert.equal((child as { code?: number }).code, 3, 'the child exits with its own code');
    for (const [where, text] of [['stderr', (child as { stderr: string }).stderr], ['orchestrator.log', await readFile(path.join(dir, 'orchestrator.log'), 'utf8')]]) {
      assert.match(text!, /WARN  \[pid \d+\] first line \{"n":1\}\n.*ERROR \[pid \d+\] last words before exit\n/, `${where}:\n${text}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a line is written after the current turn, not while the caller is still working', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-logger-'));
  const logger = new FileLogger({ stderr: false });
  try {
    logger.attach(dir);
    const file = path.join(dir, 'orchestrator.log');
    logger.info('queued');
    assert.equal(readFileSync(file, 'utf8'), '', 'nothing is written while the caller is still running');
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(await readFile(file, 'utf8'), /INFO  \[pid \d+\] queued\n$/);
  } finally {
    await logger.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('once the reader of stderr is gone, lines go to the file only, and the failure is not logged in a loop', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-logger-'));
  try {
    // As in "serve": uncaught exceptions are logged. A failed write to stderr must not become one.
    const script = [
      `import { FileLogger } from ${JSON.stringify(path.join(ROOT, 'src', 'storage', 'logger.ts'))};`,
      'const logger = new FileLogger();',
      `logger.attach(${JSON.stringify(dir)});`,
      'process.on(\'uncaughtException\', (error) => logger.error(`Uncaught exception: ${error.message}`));',
      'let n = 0;',
      'const timer = setInterval(() => logger.info(`line ${++n}`), 10);',
      'setTimeout(() => { clearInterval(timer); void logger.close(); process.stdout.write(`${n}\\n`); }, 300);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.destroy(); // the client's end of the pipe is closed
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exit = await new Promise<number | null>((resolve) => {
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (code) => {
        clearTimeout(guard);
        resolve(code);
      });
    });
    assert.equal(exit, 0, 'the process ends by itself');
    const log = await readFile(path.join(dir, 'orchestrator.log'), 'utf8');
    const logged = Number(stdout.trim());
    assert.ok(logged > 0, `the child logged lines: ${stdout}`);
    assert.equal(log.match(/Uncaught/g)?.length ?? 0, 0, `the failed stderr write was logged:\n${log.slice(0, 2000)}`);
    assert.equal(log.split('\n').length - 1, logged, 'every line is in the file, and nothing else');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The log file: size-bounded rotation, no line forged through control characters, no write through a link. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileLogger } from '../../src/logging/logger.js';

async function withTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-logger-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `work` with stderr captured (the logger reports problems with the log file there). */
async function capturingStderr(work: () => Promise<void>): Promise<string> {
  const original = process.stderr.write;
  let captured = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    captured += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await work();
  } finally {
    process.stderr.write = original;
  }
  return captured;
}

test('the log rotates at its size bound and never keeps more than its number of files', async () => {
  await withTempDir(async (dir) => {
    const maxBytes = 2_000;
    const logger = new FileLogger({ stderr: false, maxBytes, files: 3 });
    logger.attach(dir);
    const lines = 400; // about 36 KB of lines: many rotations
    for (let i = 0; i < lines; i++) logger.info(`line ${i} ${'x'.repeat(40)}`);
    await logger.close();

    assert.deepEqual((await readdir(dir)).sort(), ['orchestrator.log', 'orchestrator.log.1', 'orchestrator.log.2']);
    const longest = 100;
    for (const name of await readdir(dir)) assert.ok((await stat(path.join(dir, name))).size < maxBytes + longest, `${name} is over the bound`);
    const [live, older, oldest] = await Promise.all(['orchestrator.log', 'orchestrator.log.1', 'orchestrator.log.2'].map((n) => readFile(path.join(dir, n), 'utf8')));
    const numbers = (text: string) => [...text.matchAll(/line (\d+) /g)].map((m) => Number(m[1]));
    const kept = [...numbers(oldest!), ...numbers(older!), ...numbers(live!)];
    assert.equal(kept.at(-1), lines - 1, 'the newest line is in orchestrator.log');
    assert.deepEqual(kept, Array.from({ length: kept.length }, (_, k) => lines - kept.length + k), 'the three files hold the last lines in order, none lost between them');
  });
});

test('one file kept: the log starts over at its bound', async () => {
  await withTempDir(async (dir) => {
    const logger = new FileLogger({ stderr: false, maxBytes: 500, files: 1 });
    logger.attach(dir);
    for (let i = 0; i < 100; i++) logger.info(`line ${i}`);
    await logger.close();
    assert.deepEqual(await readdir(dir), ['orchestrator.log']);
    assert.ok((await stat(path.join(dir, 'orchestrator.log'))).size < 600);
  });
});

test('control characters in messages and data cannot start a forged log line', async () => {
  await withTempDir(async (dir) => {
    const logger = new FileLogger({ stderr: false });
    logger.attach(dir);
    const forged = '2030-01-01T00:00:00.000Z ERROR [pid 1] forged';
    logger.info(`Refused: task_id "x\n${forged}\r\u001b[2J"`, { task_id: `y\u2028\n${forged}\u0085` });
    await logger.close();
    const text = await readFile(path.join(dir, 'orchestrator.log'), 'utf8');
    const lines = text.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, text);
    assert.ok(!lines.some((l) => l.startsWith(forged)));
    assert.match(lines[0]!, /task_id "x\\n2030.*forged\\r\\u001b\[2J"/);
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028]/);
  });
});

test('a symbolic link in place of the log is not followed: the file it points to stays as it was, the problem is told once on stderr', async () => {
  await withTempDir(async (dir) => {
    const outside = path.join(dir, 'outside.txt');
    await writeFile(outside, 'precious\n');
    const logs = path.join(dir, 'logs');
    await mkdir(logs);
    await symlink(outside, path.join(logs, 'orchestrator.log'));
    const logger = new FileLogger({ stderr: false });
    const stderr = await capturingStderr(async () => {
      logger.attach(logs);
      logger.info('a line that must not reach the outside file');
      logger.attach(logs);
      logger.error('another');
      await logger.close();
    });
    assert.equal(await readFile(outside, 'utf8'), 'precious\n');
    assert.equal(stderr.match(/symbolic link/g)?.length, 1, stderr);
    assert.match(stderr, /orchestrator\.log is a symbolic link \(to .*outside\.txt\).*Remove the link/);
    assert.doesNotMatch(stderr, /must not reach/, 'stderr: false keeps the lines themselves off the terminal');
  });
});

test('a symbolic link in place of logs/ is not followed either', async () => {
  await withTempDir(async (dir) => {
    const outsideDir = path.join(dir, 'elsewhere');
    await mkdir(outsideDir);
    await symlink(outsideDir, path.join(dir, 'logs'));
    const logger = new FileLogger({ stderr: false });
    const stderr = await capturingStderr(async () => {
      logger.attach(path.join(dir, 'logs'));
      logger.info('nothing goes to elsewhere/');
      await logger.close();
    });
    assert.deepEqual(await readdir(outsideDir), []);
    assert.match(stderr, /logs is a symbolic link/);
  });
});

test('a deferred logger (the server) writes after the current turn of the event loop, and on close', async () => {
  await withTempDir(async (dir) => {
    const logger = new FileLogger({ stderr: false, deferred: true });
    logger.attach(dir);
    const file = path.join(dir, 'orchestrator.log');
    logger.info('answered first');
    assert.equal(readFileSync(file, 'utf8'), '', 'nothing written before the answer goes out (a synchronous read: an await would let the turn end)');
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(await readFile(file, 'utf8'), /answered first\n$/);
    logger.info('just before closing');
    await logger.close();
    assert.match(await readFile(file, 'utf8'), /just before closing\n$/);
  });
});

test('lines a deferred logger queued just before the process exits are in the file', async () => {
  await withTempDir(async (dir) => {
    const script = `
      const { FileLogger } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../src/logging/logger.ts'))});
      const logger = new FileLogger({ stderr: false, deferred: true });
      logger.attach(${JSON.stringify(dir)});
      logger.info('the last words');
      process.exit(0);`;
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(await readFile(path.join(dir, 'orchestrator.log'), 'utf8'), /the last words\n$/);
  });
});

test('with encryption at rest on (withoutQuotes), what messages quote never reaches the log', async () => {
  await withTempDir(async (dir) => {
    const logger = new FileLogger({ stderr: false, withoutQuotes: true });
    logger.attach(dir);
    logger.info('Refused: INVALID_TRANSITION: Subtask t.1 ("Pay the "Gazelle" invoice") is already completed.');
    logger.info('Refused: x ("a title cut off by truncate');
    logger.info('Archived completed task t');
    await logger.close();
    const text = await readFile(path.join(dir, 'orchestrator.log'), 'utf8');
    assert.doesNotMatch(text, /Gazelle|Pay the|invoice|title cut off/);
    assert.match(text, /Subtask t\.1 \("…"\) is already completed\./);
    assert.match(text, /Archived completed task t/);
  });
});

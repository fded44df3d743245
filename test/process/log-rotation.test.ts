/**
 * Several server processes append to one log. Rotating it must keep it bounded (never more than its
 * three files, none much over the bound) and leave every process able to write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorker, expectCleanExit, killAll, startWorker, tempDir } from './helpers.js';

const WRITERS = 6;
const LINES_EACH = 2_000;
const MAX_BYTES = 8_192;
const LONGEST_LINE = 200;

test(`${WRITERS} processes append ${LINES_EACH} lines each to one log rotated at ${MAX_BYTES} bytes: at most 3 files, each near the bound, and every process still writes at the end`, { timeout: 120_000 }, async () => {
  const project = await tempDir('log-rotation');
  const build = await tempDir('log-rotation-build');
  const logsDir = path.join(project.dir, 'logs');
  try {
    const bundle = await bundleWorker('log-writer', build.dir);
    const writers = Array.from({ length: WRITERS }, (_, i) => startWorker('log-writer', [logsDir, String(MAX_BYTES), String(LINES_EACH), `writer${i}`], { bundle }));
    await Promise.all(writers.map((w) => w.waitForLine(/^ready$/, 60_000)));
    for (const w of writers) w.send('go');
    await Promise.all(writers.map((w) => w.waitForLine(/^written$/, 60_000)));
    for (const w of writers) w.send('final');
    await Promise.all(writers.map((w, i) => expectCleanExit(w, `writer ${i}`, 30_000)));

    const names = (await readdir(logsDir)).sort();
    assert.deepEqual(names, ['orchestrator.log', 'orchestrator.log.1', 'orchestrator.log.2'], 'three files, no rotation marker left');
    let text = '';
    for (const name of names) {
      const size = (await stat(path.join(logsDir, name))).size;
      assert.ok(size <= MAX_BYTES + WRITERS * LONGEST_LINE, `${name} has ${size} bytes, over the bound of ${MAX_BYTES} by more than a line per process`);
      text += await readFile(path.join(logsDir, name), 'utf8');
    }
    for (let i = 0; i < WRITERS; i++) assert.match(text, new RegExp(`writer${i} final line`), `writer ${i} could no longer write after the rotations`);
    for (const line of text.split('\n').filter(Boolean)) assert.match(line, /^\S+Z INFO  \[pid \d+\] writer\d (line \d+ x*|final line)$/, 'every line whole');
  } finally {
    await killAll();
    await project.remove();
    await build.remove();
  }
});

/**
 * The bench's smoke mode, so that `npm run bench` does not rot: every phase runs at a tiny scale with a
 * few iterations and must print a table with every row and write the same rows to its results file.
 * No assertion is made on any figure: timings on a CI machine mean nothing, and MISS is a valid outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expectedRowLabels, smokeConfig } from '../../bench/config.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** The cells of the table row whose first cell is `label`, or null when there is no such row. */
function rowCells(table: string, label: string): string[] | null {
  for (const line of table.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells[0] === label) return cells;
  }
  return null;
}

test('npm run bench -- --smoke completes and prints a table with every row', { timeout: 180_000 }, async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
    await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT });
  }
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 170_000 });
  const written = await readFile(path.join(ROOT, 'bench', smokeConfig.resultsFile), 'utf8');
  for (const label of expectedRowLabels(smokeConfig)) {
    for (const [where, table] of [['stdout', stdout], [smokeConfig.resultsFile, written]] as const) {
      const cells = rowCells(table, label);
      assert.ok(cells, `no row "${label}" in ${where}`);
      assert.equal(cells.length, 6, `row "${label}" in ${where} has ${cells.length} cells`);
      assert.match(cells[1]!, /\d/, `row "${label}" in ${where} has no figure`);
      assert.doesNotMatch(cells[1]!, /NaN|n\/a/, `row "${label}" in ${where} has a missing figure: ${cells[1]}`);
      assert.match(cells[4]!, /^(PASS|MISS|info)$/, `row "${label}" in ${where} has no result`);
    }
  }
  assert.match(written, /Machine: \d+ cores/);
  assert.match(written, /Node v\d+/);
});

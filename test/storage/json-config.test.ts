import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMerge, isRefused, planMerge } from '../../src/clients/json-config.js';

test('a client config rewritten between the read and the write is left as the client wrote it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-config-'));
  try {
    const file = path.join(dir, '.claude.json');
    await writeFile(file, JSON.stringify({ mcpServers: { other: { command: 'x' } } }), { mode: 0o600 });
    const plan = await planMerge({ file, key: 'mcpServers', name: 'task-orchestrator', entry: { command: 'node', args: ['serve'] } });
    assert.ok(!isRefused(plan));
    const rewritten = JSON.stringify({ mcpServers: { other: { command: 'x' } }, numStartups: 42 });
    await writeFile(file, rewritten);
    await assert.rejects(applyMerge(plan), /changed while it was being merged/);
    assert.equal(await readFile(file, 'utf8'), rewritten);

    const again = await planMerge({ file, key: 'mcpServers', name: 'task-orchestrator', entry: { command: 'node', args: ['serve'] } });
    assert.ok(!isRefused(again));
    await applyMerge(again);
    const merged = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(merged.numStartups, 42);
    assert.deepEqual(Object.keys(merged.mcpServers).sort(), ['other', 'task-orchestrator']);
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'a private file stays private');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { connectSpawned, samplePlan, tempProject } from './harness.js';

const RECORDER = pathToFileURL(path.resolve(import.meta.dirname, '../fixtures/record-imports.mjs')).href;

test('serve never loads what only other commands need: the SQLite reader (sql.js), the MCP client, and without a database URL the PostgreSQL driver', async () => {
  const project = await tempProject();
  const record = path.join(project.dir, 'imports.txt');
  const server = await connectSpawned(project.dir, { NODE_OPTIONS: `--import ${RECORDER}`, RECORD_IMPORTS_TO: record });
  try {
    for (const [tool, args] of [['orchestrator_initialize_session', {}], ['orchestrator_plan_task', samplePlan], ['orchestrator_get_status', {}]] as const) {
      const reply = await server.call(tool, args);
      assert.equal(reply.isError, false, reply.text);
    }
  } finally {
    await server.close();
  }
  try {
    const loaded = (await readFile(record, 'utf8')).split('\n');
    assert.ok(loaded.some((url) => url.includes('/dist/mcp/server.js')), 'the recorder saw the server load');
    assert.deepEqual(loaded.filter((url) => url.includes('/node_modules/sql.js/') || url.includes('/python-sqlite.js')), []);
    assert.deepEqual(loaded.filter((url) => url.includes('/node_modules/@modelcontextprotocol/client/')), []);
    // The URL's check and redaction (database-url.js, no driver) are part of reading the settings; the store and the driver are not.
    assert.deepEqual(loaded.filter((url) => url.includes('/node_modules/pg') || (url.includes('/dist/store/postgres/') && !url.endsWith('/database-url.js')) || url.includes('/open-team-project.js')), []);
  } finally {
    await project.remove();
  }
});

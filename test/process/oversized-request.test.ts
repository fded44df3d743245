import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

/** A raw stdio session: requests go out as JSON lines, replies are matched by id. */
function session(child: ChildProcessWithoutNullStreams) {
  let buffered = '';
  const waiting = new Map<number, (reply: any) => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const message = JSON.parse(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
      waiting.get(message.id)?.(message);
    }
  });
  let nextId = 1;
  return {
    request(method: string, params: unknown): Promise<any> {
      const id = nextId++;
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    notify(method: string): void {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
    },
  };
}

// 30 s for the exit: a loaded 2-core machine needs a while to push 11 MiB through the pipe; a hang never ends.
test('a 5.5 MB field is refused by name and the server keeps serving; a request over 10 MiB ends the connection with the reason logged', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-oversized-'));
  const child = spawn(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH, MCP_TASK_ORCHESTRATOR_BASE_DIR: dir }, stdio: 'pipe' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.stdin.on('error', () => undefined); // the server may close its end before the last oversized write is through
  try {
    const mcp = session(child);
    await mcp.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
    mcp.notify('notifications/initialized');
    const big = await mcp.request('tools/call', { name: 'orchestrator_plan_task', arguments: { description: 'x'.repeat(5_500_000), subtasks: [{ title: 'A', specialist_type: 'architect' }] } });
    assert.equal(big.result.isError, true);
    assert.match(big.result.content[0].text, /^INVALID_INPUT: description is 5,500,000 characters long; at most 10,000/);
    const status = await mcp.request('tools/call', { name: 'orchestrator_get_status', arguments: {} });
    assert.equal(status.result.isError, undefined, 'still serving');

    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'orchestrator_get_status', arguments: { pad: 'y'.repeat(11 * 1024 * 1024) } } })}\n`);
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    assert.equal(code, 0, 'the server exits instead of hanging on a closed connection');
    const log = await readFile(path.join(dir, '.task_orchestrator/logs/orchestrator.log'), 'utf8');
    assert.match(log, /MCP connection: ReadBuffer exceeded maximum size of 10485760 bytes/);
    assert.match(log, /Shutting down: the MCP connection closed/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
});

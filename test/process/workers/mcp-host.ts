/**
 * A stand-in for an MCP client, the "host" of a server: starts the built server with pipes for its
 * stdin, stdout and stderr, as clients do, and talks JSON-RPC to it. Arguments: <cli> <project dir>.
 * Prints "server <pid>", then "ready" once the server has answered a tool call. Then, on
 * "close stdout" or "close stderr" from the parent test: destroys its end of that pipe and sends a
 * refused tool call, whose answer (stdout) and log line (stderr) the server writes. Killing this
 * process closes all three pipes at once, as a crashing client does.
 */
import { spawn } from 'node:child_process';
import { readLines } from './lines.js';
import { commandFromParent, say } from './worker-io.js';

const [cli, project] = process.argv.slice(2);
const server = spawn(process.execPath, [cli!, 'serve'], { cwd: project, env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
say(`server ${server.pid}`);

const answered = new Set<number>();
const waiting = new Set<() => void>();
readLines(server.stdout, (lines) => {
  for (const line of lines) {
    const id = (JSON.parse(line) as { id?: number }).id;
    if (typeof id === 'number') answered.add(id);
  }
  for (const wake of [...waiting]) wake();
});
server.stderr.resume();
for (const pipe of [server.stdin, server.stdout, server.stderr]) pipe.on('error', () => undefined);

let nextId = 1;
function call(method: string, params: object): Promise<void> {
  const id = nextId++;
  server.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
  return new Promise((resolve) => {
    const check = () => answered.has(id) && (waiting.delete(check), resolve());
    waiting.add(check);
    check();
  });
}

await call('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-host', version: '1' } });
server.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
await call('tools/call', { name: 'orchestrator_get_status', arguments: {} });
say('ready');

const which = await commandFromParent('close');
(which === 'stdout' ? server.stdout : server.stderr).destroy();
void call('tools/call', { name: 'orchestrator_execute_subtask', arguments: { task_id: 'no/such/task' } });
say('closed');
await new Promise(() => undefined); // stay until the test ends this process

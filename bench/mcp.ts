/** Spawning servers over stdio and calling them through the official MCP client, with timing and reply sizes. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface Reply {
  isError: boolean;
  text: string;
  data: any;
  /** Bytes of the tool result as JSON (content + structuredContent), what the client receives. */
  bytes: number;
  ms: number;
}

export interface Server {
  pid: number;
  /** Milliseconds from spawn to the end of the MCP handshake. */
  connectMs: number;
  call(name: string, args?: Record<string, unknown>): Promise<Reply>;
  /** The last lines the server wrote to stderr, for error reports. */
  stderrTail(): string;
  close(): Promise<void>;
}

export interface SpawnOptions {
  /** The program to run; node itself unless a wrapper is wanted (strace, perf, ...). */
  command?: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** Spawns a server with `node <args>` and completes the MCP handshake. Timing starts before the spawn. */
export async function spawnServer(options: SpawnOptions): Promise<Server> {
  const start = performance.now();
  const transport = new StdioClientTransport({ command: options.command ?? process.execPath, args: options.args, cwd: options.cwd, env: options.env, stderr: 'pipe' });
  let tail = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  const client = new Client({ name: 'task-orchestrator-bench', version: '1.0.0' });
  await client.connect(transport);
  const connectMs = performance.now() - start;
  const pid = transport.pid;
  if (pid === null) throw new Error('the server process has no pid');
  return {
    pid,
    connectMs,
    call: (name, args = {}) => timedCall(client, name, args),
    stderrTail: () => tail,
    close: () => client.close(),
  };
}

/** Calls a tool through a connected client, timing it from the call to the answer (over stdio or HTTP). */
export async function timedCall(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Reply> {
  const t0 = performance.now();
  const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: unknown };
  const elapsed = performance.now() - t0;
  return {
    isError: result.isError === true,
    text: result.content.map((c) => c.text ?? '').join('\n'),
    data: result.structuredContent,
    bytes: Buffer.byteLength(JSON.stringify(result)),
    ms: elapsed,
  };
}

/** `task-orchestrator serve` on a project folder, as an MCP client would start it. */
export function spawnOrchestrator(baseDir: string, extraArgs: string[] = []): Promise<Server> {
  return spawnServer({ args: [...extraArgs, CLI, 'serve'], cwd: baseDir, env: { MCP_TASK_ORCHESTRATOR_BASE_DIR: baseDir } });
}

/** Calls a tool and throws with the server's explanation if it answers with an error. */
export async function callOk(server: Server, name: string, args: Record<string, unknown> = {}): Promise<Reply> {
  const reply = await server.call(name, args);
  if (reply.isError) throw new Error(`${name} failed: ${reply.text}\n--- server stderr (tail) ---\n${server.stderrTail()}`);
  return reply;
}

/** Resident memory of a process from /proc/<pid>/status (Linux): current (VmRSS) and peak (VmHWM), in bytes. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat (Linux). */
export async function cpuMsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

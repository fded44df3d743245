/** `task-orchestrator serve --http` as a real process, and the official v2 client connected to it over Streamable HTTP. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { after, before } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { CLI, tempProject, wrap, type Connection } from '../mcp/harness.js';

export interface HttpServerProcess {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  /** The MCP endpoint, as the server printed it. */
  url: URL;
  /** The token file it printed the path of (null: the token came from the environment). */
  tokenFile: string | null;
  token: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL unless it already exited; waits until it is reaped. */
  kill(): Promise<void>;
}

const live = new Set<HttpServerProcess>();
after(async () => {
  await Promise.all([...live].map((s) => s.kill())); // every server a test started, even when it failed
});

/** A clean environment: no MCP_TASK_ORCHESTRATOR_* from the shell running the tests. */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(clean)) if (key.startsWith('MCP_TASK_ORCHESTRATOR_')) delete clean[key];
  return { ...clean, ...env };
}

export function spawnServer(cwd: string, args: string[] = [], env: Record<string, string> = {}): { child: ChildProcessWithoutNullStreams; stdout(): string; stderr(): string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [CLI, 'serve', '--http', ...args], { cwd, env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Starts the server on a free port (--port 0) and reads the URL and the token's whereabouts from its stderr. */
export async function startServer(cwd: string, options: { args?: string[]; env?: Record<string, string> } = {}): Promise<HttpServerProcess> {
  const spawned = spawnServer(cwd, ['--port', '0', ...(options.args ?? [])], options.env);
  const server: HttpServerProcess = {
    ...spawned,
    pid: spawned.child.pid!,
    url: new URL('http://invalid'),
    tokenFile: null,
    token: '',
    async kill() {
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill('SIGKILL');
      await spawned.exited;
      live.delete(server);
    },
  };
  live.add(server);
  const lines = await firstLines(server, 10_000);
  server.url = new URL(/serving MCP over HTTP at (\S+)/.exec(lines)![1]!);
  const file = /bearer token in (\S+)/.exec(lines)?.[1] ?? null;
  server.tokenFile = file;
  server.token = file ? (await readFile(file, 'utf8')).trim() : options.env?.MCP_TASK_ORCHESTRATOR_HTTP_TOKEN ?? '';
  return server;
}

async function firstLines(server: HttpServerProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (/bearer token (in|from) \S+/.test(server.stderr())) return server.stderr();
    if (server.child.exitCode !== null) throw new Error(`serve --http exited with ${server.child.exitCode} before listening; stderr:\n${server.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`serve --http printed no URL within ${timeoutMs} ms; stderr:\n${server.stderr()}`);
}

/** The official v2 client over Streamable HTTP, sending the bearer token with every request. */
export async function connectHttp(url: URL, token: string, name = 'test'): Promise<Connection & { transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return Object.assign(wrap(client, async () => undefined), { transport });
}

/**
 * A server on a fresh temporary project for the tests of one describe() (or of a file): started before
 * them, stopped and its project removed after, even when they failed. Tests read `suite.server` and
 * `suite.project`, which are set once the before hook has run.
 */
export function serverPerSuite(options: { args?: string[]; env?: Record<string, string> } = {}): { project: Awaited<ReturnType<typeof tempProject>>; server: HttpServerProcess } {
  const suite = {} as { project: Awaited<ReturnType<typeof tempProject>>; server: HttpServerProcess };
  before(async () => {
    suite.project = await tempProject();
    suite.server = await startServer(suite.project.dir, options);
  });
  after(async () => {
    await suite.server?.kill();
    await suite.project?.remove();
  });
  return suite;
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request with node:http, which (unlike fetch) lets a test send any Host header. Defaults:
 * POST to the MCP endpoint with the headers a client sends.
 */
export function rawRequest(url: URL, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawReply> {
  const body = options.body ?? '';
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port,
        method: options.method ?? 'POST',
        path: options.path ?? url.pathname,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Content-Length': String(Buffer.byteLength(body)), ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const initializeMessage = (id: number | string = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

export function toolCallMessage(id: number, name: string, args: Record<string, unknown> = {}): object {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

/** A session opened with raw requests: its id, for requests that the official client would not send. */
export async function rawSession(url: URL, token: string): Promise<string> {
  const auth = { Authorization: `Bearer ${token}` };
  const init = await rawRequest(url, { headers: auth, body: initializeMessage() });
  if (init.status !== 200) throw new Error(`initialize: ${init.status} ${init.body}`);
  const session = init.headers['mcp-session-id'] as string;
  const headers = { ...auth, 'Mcp-Session-Id': session, 'Mcp-Protocol-Version': '2025-06-18' };
  const initialized = await rawRequest(url, { headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  if (initialized.status !== 202) throw new Error(`notifications/initialized: ${initialized.status} ${initialized.body}`);
  return session;
}

export function sessionHeaders(token: string, session: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, 'Mcp-Session-Id': session, 'Mcp-Protocol-Version': '2025-06-18' };
}

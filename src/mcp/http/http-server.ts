import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isInitializeRequest, type McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';
import { bareHost, HEALTH_PATH, isWildcard, MCP_PATH, urlHostname } from './endpoint.js';
import { corsHeaders, originPolicy, passesOriginPolicy, preflightHeaders } from './request-checks.js';
import { SessionRegistry, type HttpSession } from './sessions.js';
import { bearerMatches } from './token.js';
import { Dashboard, type DashboardOptions } from './dashboard.js';

export interface HttpLimits {
  maxBodyBytes: number;
  maxSessions: number;
  maxCallsPerSession: number;
  idleMs: number;
}

export interface McpHttpServerOptions {
  host: string;
  /** 0: any free port (the URL then says which). */
  port: number;
  allowedOrigins: string[];
  token: string;
  limits: HttpLimits;
  /** The McpServer of a new session, whose calls act for `agentId`. */
  createServer: (agentId: string) => McpServer;
  logger: Logger;
  /** The browser dashboard at / (its use cases); none: only /mcp and /healthz. */
  dashboard?: Pick<DashboardOptions, 'orchestrator'>;
}

/** Listening failed: the message names the address and what to do. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

type JsonRpcId = string | number | null;

/**
 * Against clients that hold connections open by sending slowly: a request's headers must arrive within
 * HEADERS_TIMEOUT_MS and the whole request (headers and body) within REQUEST_TIMEOUT_MS, checked every
 * second (README, "Limits and defaults"). Replies are not bound by them: a call may take its time.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Connections open at once, beyond which Node closes new ones at once: each session may hold its GET
 * stream, its calls in flight and one more, so a full server still serves every session it admits.
 */
export function maxConnectionsFor(limits: Pick<HttpLimits, 'maxSessions' | 'maxCallsPerSession'>): number {
  return limits.maxSessions * (limits.maxCallsPerSession + 2);
}

/**
 * MCP Streamable HTTP at /mcp, with the SDK's transport doing the protocol (one per session), and in
 * front of it what makes one server safe to share: the Host/Origin check, the bearer token, and limits
 * on body size, sessions and calls in flight, each refused with its own HTTP status and a JSON-RPC
 * error body saying what to do. GET /healthz answers without a token and says only whether it runs.
 */
export class McpHttpServer {
  private readonly http: Server;
  private readonly sessions: SessionRegistry;
  private readonly checkOrigin: (req: IncomingMessage, res: ServerResponse) => boolean;
  private readonly answering = new Set<ServerResponse>();
  private closing = false;
  private readonly dashboard: Dashboard | null;

  constructor(private readonly options: McpHttpServerOptions) {
    this.dashboard = options.dashboard ? new Dashboard({ token: options.token, logger: options.logger, orchestrator: options.dashboard.orchestrator }) : null;
    this.sessions = new SessionRegistry(options.limits, options.createServer, options.logger);
    this.checkOrigin = passesOriginPolicy(originPolicy(options.host, options.allowedOrigins));
    this.http = createHttpServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 }, (req, res) => void this.handle(req, res));
    this.http.maxConnections = maxConnectionsFor(options.limits);
  }

  /** Starts listening; resolves with the URL of the MCP endpoint (a connectable one for 0.0.0.0 or ::). */
  async listen(): Promise<URL> {
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: NodeJS.ErrnoException) => reject(listenError(error, host, port));
      this.http.once('error', fail);
      this.http.listen(port, bareHost(host), () => {
        this.http.off('error', fail);
        resolve();
      });
    });
    this.http.on('error', (error) => this.options.logger.error(`HTTP server: ${error.message}`));
    const address = this.http.address() as AddressInfo;
    const shown = isWildcard(host) ? (address.family === 'IPv6' ? '[::1]' : '127.0.0.1') : urlHostname(host);
    return new URL(`http://${shown}:${address.port}${MCP_PATH}`);
  }

  /**
   * Stops accepting (the port is freed at once; requests on open connections get 503), waits up to
   * `drainMs` for the calls in flight to be answered, then ends every session and connection.
   * Resolves with the number of calls that did not finish in time.
   */
  async shutdown(drainMs: number): Promise<number> {
    this.closing = true;
    this.dashboard?.close();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const res of this.answering) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.http.closeIdleConnections();
    const deadline = Date.now() + drainMs;
    while (this.sessions.callsInFlight > 0 && Date.now() < deadline) await sleep(20);
    const unfinished = this.sessions.callsInFlight;
    await this.sessions.closeAll('the server is shutting down');
    // The last replies are written by now; give their connections a moment to end, then end the rest.
    const settled = Date.now() + 500;
    while (this.answering.size > 0 && Date.now() < settled) await sleep(10);
    this.http.closeAllConnections();
    await closed;
    return unfinished;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const from = req.socket.remoteAddress; // gone from the socket once it is closed
    this.answering.add(res);
    res.on('close', () => this.answering.delete(res));
    try {
      await this.route(req, res);
    } catch (error) {
      if (clientWentAway(req, error)) return this.options.logger.info(`HTTP ${req.method} ${pathOf(req.url)}: the client closed the connection before its request was complete; nothing was done`, { from });
      // The path only: a query may carry the dashboard's ?token=.
      this.options.logger.error(`HTTP ${req.method} ${pathOf(req.url)}: ${(error as Error).message}`, { stack: (error as Error).stack });
      if (!res.headersSent) reply(res, 500, rpcError(-32603, 'Internal server error: the request was not completed; see the server log.'));
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    if (path === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) return this.health(res);
    if (!this.hostAndOriginAllowed(req, res)) return this.refused(req, 403, 'Host or Origin not allowed');
    for (const [name, value] of Object.entries(corsHeaders(req))) res.setHeader(name, value);
    if (req.method === 'OPTIONS') return void res.writeHead(204, preflightHeaders(req)).end();
    if (this.dashboard && Dashboard.owns(path)) {
      if (this.closing) return reply(res, 503, { error: 'The server is shutting down.' }, { Connection: 'close' });
      return this.dashboard.handle(req, res, new URL(req.url ?? '/', 'http://localhost'));
    }
    if (!bearerMatches(req.headers.authorization, this.options.token)) return this.unauthorized(req, res);
    if (path !== MCP_PATH && path !== `${MCP_PATH}/`) return refuseUnread(req, res, 404, rpcError(-32000, `Not found: the MCP endpoint is ${MCP_PATH}.`));
    if (this.closing) return refuseUnread(req, res, 503, rpcError(-32000, 'The server is shutting down: retry against its replacement.'), { 'Retry-After': '5' });
    if (req.method === 'POST') return this.post(req, res);
    if (req.method === 'GET' || req.method === 'DELETE') return this.sessionRequest(req, res);
    refuseUnread(req, res, 405, rpcError(-32000, `Method ${req.method} is not allowed on ${MCP_PATH}: use POST, GET or DELETE.`), { Allow: 'GET, POST, DELETE, OPTIONS' });
  }

  /** The SDK's Host/Origin checks, whose 403 (written by the check itself) closes the connection like every refusal sent before the body is read. */
  private hostAndOriginAllowed(req: IncomingMessage, res: ServerResponse): boolean {
    res.setHeader('Connection', 'close');
    if (!this.checkOrigin(req, res)) {
      closeAfterReply(req);
      return false;
    }
    res.removeHeader('Connection');
    return true;
  }

  /** Liveness only: no version, no counts, nothing about the project. */
  private health(res: ServerResponse): void {
    reply(res, this.closing ? 503 : 200, { status: this.closing ? 'stopping' : 'ok' });
  }

  private unauthorized(req: IncomingMessage, res: ServerResponse): void {
    const presented = req.headers.authorization !== undefined;
    this.refused(req, 401, presented ? 'wrong bearer token' : 'no bearer token');
    const challenge = `Bearer realm="task-orchestrator"${presented ? ', error="invalid_token"' : ''}`;
    const why = presented ? 'the bearer token is not this server\'s' : 'send "Authorization: Bearer <token>"';
    refuseUnread(req, res, 401, rpcError(-32000, `Unauthorized: ${why}. The token is in the http-token file the server printed the path of when it started, or in MCP_TASK_ORCHESTRATOR_HTTP_TOKEN where it runs.`), { 'WWW-Authenticate': challenge });
  }

  private async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, this.options.limits.maxBodyBytes);
    if (body === null) return this.bodyTooLarge(req, res);
    let message: unknown;
    try {
      message = JSON.parse(body);
    } catch {
      return reply(res, 400, rpcError(-32700, 'Parse error: the request body is not valid JSON.'));
    }
    const sessionId = headerOf(req, 'mcp-session-id');
    if (sessionId === undefined) {
      if (!isInitializeRequest(message)) return reply(res, 400, rpcError(-32000, 'Bad Request: no Mcp-Session-Id header. Send an initialize request first; its reply carries the session id to send with every later request.', idOf(message)));
      return this.openSession(req, res, message);
    }
    const session = this.sessions.get(sessionId);
    if (!session) return this.unknownSession(req, res, idOf(message), true);
    const ids = requestIds(message);
    const reused = reusedId(ids, session.idsInFlight);
    if (reused !== undefined) return this.idInUse(req, res, session, reused);
    if (session.callsInFlight + ids.length > this.options.limits.maxCallsPerSession) {
      this.refused(req, 429, `session of ${session.agentId} has ${session.callsInFlight} calls in flight`);
      return reply(res, 429, rpcError(-32000, `Too many calls in flight in this session (at most ${this.options.limits.maxCallsPerSession}; MCP_TASK_ORCHESTRATOR_HTTP_MAX_CALLS_PER_SESSION): wait for a reply before sending more.`, idOf(message)), { 'Retry-After': '1' });
    }
    await this.serve(session, ids, res, () => session.transport.handleRequest(req, res, message));
  }

  private async openSession(req: IncomingMessage, res: ServerResponse, message: unknown): Promise<void> {
    const opened = this.sessions.open();
    if (!opened) {
      this.refused(req, 503, `${this.sessions.size} sessions open`);
      return reply(res, 503, rpcError(-32000, `Too many sessions open (at most ${this.options.limits.maxSessions}; MCP_TASK_ORCHESTRATOR_HTTP_MAX_SESSIONS): retry later, or end unused sessions (DELETE ${MCP_PATH}).`, idOf(message)), { 'Retry-After': '5' });
    }
    try {
      await opened.server.connect(opened.transport);
      await opened.transport.handleRequest(req, res, message);
    } finally {
      await opened.settle();
    }
  }

  /** GET opens the session's stream for server messages; DELETE ends the session. */
  private async sessionRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = headerOf(req, 'mcp-session-id');
    if (sessionId === undefined) return refuseUnread(req, res, 400, rpcError(-32000, `Bad Request: ${req.method} needs the Mcp-Session-Id header of an open session.`));
    const session = this.sessions.get(sessionId);
    if (!session) return this.unknownSession(req, res, null, false);
    session.lastActive = Date.now();
    await session.transport.handleRequest(req, res);
  }

  /**
   * Counts the calls while the SDK answers them (for the per-session limit, idle expiry and shutdown)
   * and holds their ids. The count is released when the SDK is done, or as soon as the response is
   * over (sent, or its connection gone) should the SDK never settle: a stuck call must not hold a slot
   * or keep its session alive forever. The ids stay held until the SDK is done, since until then it
   * still maps them to this response.
   */
  private async serve(session: HttpSession, ids: (string | number)[], res: ServerResponse, answer: () => Promise<void>): Promise<void> {
    session.callsInFlight += ids.length;
    for (const id of ids) session.idsInFlight.add(id);
    session.lastActive = Date.now();
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      session.callsInFlight -= ids.length;
      session.lastActive = Date.now();
    };
    res.once('close', release);
    try {
      await answer();
    } finally {
      release();
      for (const id of ids) session.idsInFlight.delete(id);
    }
  }

  /** A request id already in flight in the session: refused, since the SDK would lose the first request's reply. */
  private idInUse(req: IncomingMessage, res: ServerResponse, session: HttpSession, id: string | number): void {
    const named = JSON.stringify(id);
    this.refused(req, 409, `session of ${session.agentId} sent the id ${named} of a request still in flight`);
    // The reply's id is null: naming the reused id could pass this refusal off as the first request's reply.
    reply(res, 409, rpcError(-32600, `Invalid Request: the id ${named} is already used by a request of this session that is still being answered. Give every request a new id (ids must be unique among a session's requests in flight), then send it again.`));
  }

  private unknownSession(req: IncomingMessage, res: ServerResponse, id: JsonRpcId, bodyRead: boolean): void {
    // 404 is what tells a client to start a new session (MCP Streamable HTTP, session management).
    const body = rpcError(-32001, `Session not found: it ended (idle for more than ${Math.round(this.options.limits.idleMs / 1000)} s, deleted, or the server restarted). Send initialize again to open a new one.`, id);
    if (bodyRead) reply(res, 404, body);
    else refuseUnread(req, res, 404, body);
  }

  private bodyTooLarge(req: IncomingMessage, res: ServerResponse): void {
    const max = this.options.limits.maxBodyBytes;
    this.refused(req, 413, `body over ${max} bytes`);
    reply(res, 413, rpcError(-32000, `Request body too large: at most ${max} bytes (MCP_TASK_ORCHESTRATOR_HTTP_MAX_BODY_BYTES). Put long work in detailed_work across several calls, or raise the limit.`), { Connection: 'close' });
  }

  private refused(req: IncomingMessage, status: number, why: string): void {
    this.options.logger.info(`Refused an HTTP request with ${status}: ${why}`, { method: req.method, path: pathOf(req.url), from: req.socket.remoteAddress });
  }
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): ListenError {
  const where = `${urlHostname(host)}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new ListenError(`cannot listen on ${where}: the port is already in use (another server?). Pass --port with a free port, or --port 0 for any free one.`);
    case 'EACCES':
      return new ListenError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges). Pass --port 1024 or above.`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ListenError(`cannot listen on ${where}: ${urlHostname(host)} is not an address of this machine. Pass --host 127.0.0.1, or one of this machine's addresses.`);
    default:
      return new ListenError(`cannot listen on ${where}: ${error.message}`);
  }
}

/**
 * A body over the limit is read to its end and dropped, up to this much: a client answered while it is
 * still sending gets its connection reset and never reads the 413. Beyond it, the client is cut off.
 */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/** The body as text, or null when it is over `max` bytes (then read to its end and dropped, see DISCARD_LIMIT). */
async function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  const declared = Number(req.headers['content-length']);
  if (declared > DISCARD_LIMIT) return null;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = declared > max;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else if (size > DISCARD_LIMIT) resolve(null); // answered now; the connection closes after the 413
    });
    req.once('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** The ids of the JSON-RPC requests in a message or batch: the calls that will wait for a reply. */
function requestIds(message: unknown): (string | number)[] {
  const messages = Array.isArray(message) ? message : [message];
  const ids = messages.filter((m) => typeof m === 'object' && m !== null && 'method' in m && 'id' in m).map((m) => (m as { id: unknown }).id);
  return ids.filter((id): id is string | number => typeof id === 'string' || typeof id === 'number');
}

/** The first id that is already in flight, or that the batch uses twice. */
function reusedId(ids: (string | number)[], inFlight: ReadonlySet<string | number>): string | number | undefined {
  const seen = new Set<string | number>();
  for (const id of ids) {
    if (inFlight.has(id) || seen.has(id)) return id;
    seen.add(id);
  }
  return undefined;
}

/** A request cut off by its client (Node's "aborted"): nothing to answer, and nothing went wrong here. */
function clientWentAway(req: IncomingMessage, error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ECONNRESET' && !req.complete;
}

function idOf(message: unknown): JsonRpcId {
  const id = typeof message === 'object' && message !== null && !Array.isArray(message) ? (message as { id?: unknown }).id : null;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function rpcError(code: number, message: string, id: JsonRpcId = null): object {
  return { jsonrpc: '2.0', error: { code, message }, id };
}

function reply(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/**
 * A refusal sent before the body is read: the connection closes after it, instead of Node reading
 * (and dropping) whatever body follows to keep the connection, however large or slow that body is.
 */
function refuseUnread(req: IncomingMessage, res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  reply(res, status, body, { ...headers, Connection: 'close' });
  closeAfterReply(req);
}

/** How long a connection closed after a refusal stays open for its client to read the reply. */
const LINGER_MS = 1_000;

/**
 * Ends the connection after the reply, with the rest of the request unread. Node closes a
 * "Connection: close" reply with the socket's destroySoon, which destroys it as soon as the reply is
 * flushed; with request bytes still unread, the kernel then sends a reset that can discard the reply
 * before the client reads it (seen under load). So the socket ends (the client reads the reply, then
 * the end), reads no more, and is destroyed LINGER_MS later, whatever the client still sends.
 */
function closeAfterReply(req: IncomingMessage): void {
  // Called right after the reply's end(): Node calls destroySoon later, once the reply's 'finish' is emitted.
  const socket = req.socket;
  socket.destroySoon = () => {
    socket.end();
    socket.pause();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

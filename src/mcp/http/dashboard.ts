import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Orchestrator } from '../../app/orchestrator.js';
import { archiveParent, listParents, releaseLease, subtaskDetail, unblockSubtask } from '../../app/dashboard.js';
import { showTask } from '../../app/show-task.js';
import type { Logger, ParentSummary } from '../../app/ports.js';
import { OrchestratorError } from '../../domain/errors.js';
import { DashboardSessions, tokenMatches, type DashboardSession } from './dashboard-sessions.js';

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const POLL_MS = 1000;
export const MAX_EVENT_CLIENTS = 32;
const MAX_FORM_BYTES = 16 * 1024;
/** No script, style or frame from anywhere but this server; no inline script. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: under no-referrer a form's POST carries "Origin: null", which the login refuses.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export interface DashboardOptions {
  token: string;
  /** The use cases, acting for `agentId` (recorded in history by the actions). */
  orchestrator: (agentId: string) => Promise<Orchestrator>;
  logger: Logger;
}

/**
 * The browser dashboard served beside /mcp: a static page (no data in it), JSON under /dashboard/api
 * read through the same use cases as the tools, a Server-Sent Events stream of changed parents, and
 * three confirmed actions. The caller has checked Host and Origin already.
 */
export class Dashboard {
  private readonly sessions = new DashboardSessions();
  private readonly clients = new Set<ServerResponse>();
  private poller: NodeJS.Timeout | null = null;
  private lastSeen: Map<string, string> | null = null;
  private readonly assets = new Map<string, Buffer>();

  constructor(private readonly options: DashboardOptions) {
    for (const { file } of Object.values(ASSETS)) this.assets.set(file, readFileSync(new URL(`./dashboard-assets/${file}`, import.meta.url)));
  }

  /** Whether a path is the dashboard's (then `handle` answers it). */
  static owns(path: string): boolean {
    return path === '/' || path === '/dashboard' || path.startsWith('/dashboard/');
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (req.method === 'GET' && path === '/' && url.searchParams.has('token')) return this.loginByLink(req, res, url.searchParams.get('token')!);
    const asset = ASSETS[path];
    if (asset && (req.method === 'GET' || req.method === 'HEAD')) return send(res, 200, this.assets.get(asset.file)!, asset.type);
    if (path === '/dashboard/login' && req.method === 'POST') return this.loginByForm(req, res);
    if (req.method === 'POST' && !req.headers.origin) return json(res, 403, { error: 'FORBIDDEN', message: 'A dashboard action must come from the dashboard page (no Origin header).' });
    const session = this.sessions.find(req.headers.cookie);
    if (!session) return json(res, 401, { error: 'UNAUTHORIZED', message: 'No valid dashboard session: open the page and enter the token.' });
    if (path === '/dashboard/logout' && req.method === 'POST') {
      this.sessions.close(req.headers.cookie);
      return json(res, 200, { ok: true });
    }
    if (path === '/dashboard/api/events' && req.method === 'GET') return this.events(res);
    try {
      const orchestrator = await this.options.orchestrator(`dashboard:${session.shortId}`);
      const body = req.method === 'POST' ? await readJson(req) : null;
      const answer = await this.api(req.method ?? 'GET', path, url, orchestrator, body, session);
      if (answer === undefined) return json(res, 404, { error: 'NOT_FOUND', message: `No dashboard endpoint ${req.method} ${path}.` });
      json(res, 200, answer);
    } catch (error) {
      if (error instanceof OrchestratorError) return json(res, error.code === 'TASK_NOT_FOUND' ? 404 : 409, { error: error.code, message: error.message });
      throw error;
    }
  }

  private async api(method: string, path: string, url: URL, o: Orchestrator, body: Record<string, unknown> | null, session: DashboardSession): Promise<unknown> {
    const parts = path.split('/').slice(3).map(decodeURIComponent); // /dashboard/api/<...>
    const q = (name: string) => url.searchParams.get(name) ?? undefined;
    if (method === 'GET') {
      if (parts[0] === 'session') return { session: session.shortId };
      if (parts[0] === 'parents' && parts.length === 1) return listParents(o.ctx, { filter: q('filter'), offset: Number(q('offset') ?? 0) || 0, limit: Number(q('limit') ?? 50) || 50 });
      if (parts[0] === 'parents' && parts.length === 2) return showTask(o.ctx, parts[1]);
      if (parts[0] === 'subtasks' && parts.length === 3) return subtaskDetail(o.ctx, parts[1], parts[2]);
      if (parts[0] === 'history' && parts.length === 2) return o.getHistory({ task_id: parts[1], cursor: q('cursor'), limit: 500 });
      if (parts[0] === 'health') return o.maintain({ action: 'report' });
      return undefined;
    }
    if (method !== 'POST' || parts[0] !== 'actions' || body === null) return undefined;
    switch (parts[1]) {
      case 'release':
        return summary(await releaseLease(o.ctx, { parent_task_id: body.parent_task_id, task_id: body.task_id }));
      case 'archive':
        return summary(await archiveParent(o.ctx, body.parent_task_id));
      case 'unblock':
        return summary(await unblockSubtask(o.ctx, { parent_task_id: body.parent_task_id, task_id: body.task_id, note: body.note }));
      default:
        return undefined;
    }
  }

  /** `/?token=...`: a link the server can print; the token is swapped for a cookie and leaves the address bar (303 to /). */
  private loginByLink(req: IncomingMessage, res: ServerResponse, token: string): void {
    if (!tokenMatches(token, this.options.token)) return this.refusedLogin(req, res);
    const { cookie } = this.sessions.open();
    res.writeHead(303, { ...SECURITY_HEADERS, Location: '/', 'Set-Cookie': cookie }).end();
  }

  private async loginByForm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!req.headers.origin) return json(res, 403, { error: 'FORBIDDEN', message: 'The login form must be sent by the dashboard page (no Origin header).' });
    const text = await readText(req, MAX_FORM_BYTES);
    const token = new URLSearchParams(text ?? '').get('token') ?? '';
    if (!tokenMatches(token, this.options.token)) return this.refusedLogin(req, res);
    const { cookie } = this.sessions.open();
    res.writeHead(303, { ...SECURITY_HEADERS, Location: '/', 'Set-Cookie': cookie }).end();
  }

  private refusedLogin(req: IncomingMessage, res: ServerResponse): void {
    this.options.logger.info('Refused a dashboard login: wrong token', { from: req.socket.remoteAddress });
    res.writeHead(303, { ...SECURITY_HEADERS, Location: '/#login-failed' }).end();
  }

  /** Server-Sent Events: "changed" with the ids of parents whose stored state moved, polled once a second while anyone listens. */
  private events(res: ServerResponse): void {
    if (this.clients.size >= MAX_EVENT_CLIENTS) return json(res, 503, { error: 'TOO_MANY_CLIENTS', message: `At most ${MAX_EVENT_CLIENTS} dashboards follow changes at once; close one.` });
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    res.write('retry: 2000\n: connected\n\n');
    this.clients.add(res);
    res.on('close', () => {
      // The response's close, not the request's: a GET request "closes" as soon as it has been read.
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopPolling();
    });
    if (!this.poller) {
      // The baseline now: a change in the first second after a page connects must not become the baseline.
      void this.poll();
      this.poller = setInterval(() => void this.poll(), POLL_MS);
    }
  }

  private async poll(): Promise<void> {
    try {
      const orchestrator = await this.options.orchestrator('dashboard');
      const seen = new Map((await orchestrator.ctx.store.list({ includeArchived: false })).map((p) => [p.parent_task_id, signature(p)]));
      const before = this.lastSeen;
      this.lastSeen = seen;
      if (before === null) return;
      const changed = [...seen].filter(([id, sig]) => before.get(id) !== sig).map(([id]) => id);
      const gone = [...before.keys()].filter((id) => !seen.has(id));
      const ids = [...changed, ...gone];
      if (ids.length === 0) return;
      const message = `event: changed\ndata: ${JSON.stringify({ parent_task_ids: ids.slice(0, 100), more: ids.length > 100 })}\n\n`;
      for (const client of this.clients) client.write(message);
    } catch (error) {
      this.options.logger.warn(`Dashboard change poll failed: ${(error as Error).message}`);
    }
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.lastSeen = null;
  }

  /** Ends the event streams (the server is shutting down). */
  close(): void {
    this.stopPolling();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}

function signature(p: ParentSummary): string {
  return `${p.updated_at}|${p.subtasks.map((s) => `${s.status}:${s.lease?.agent_id ?? ''}:${s.lease?.expires_at ?? ''}`).join(',')}`;
}

function summary(parent: { parent_task_id: string; revision?: number }): { ok: true; parent_task_id: string; revision: number | null } {
  return { ok: true, parent_task_id: parent.parent_task_id, revision: parent.revision ?? null };
}

function send(res: ServerResponse, status: number, body: Buffer | string, type: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type }).end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

async function readText(req: IncomingMessage, max: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(req, MAX_FORM_BYTES);
  if (text === null) throw new OrchestratorError('INVALID_INPUT', `The request body is over ${MAX_FORM_BYTES} bytes.`);
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new OrchestratorError('INVALID_INPUT', 'The request body must be a JSON object.');
}

import path from 'node:path';
import { DEFAULT_HTTP_PORT, HTTP_TOKEN_VARIABLE } from '../../config.js';
import { HEALTH_PATH, urlHostname } from '../../mcp/http/endpoint.js';
import { TOKEN_FILE_NAME } from '../../mcp/http/token.js';
import { projectDir, settingsFor } from '../run.js';
import type { ServeOptions } from './serve.js';

/**
 * `task-orchestrator dashboard`: the browser dashboard of this project. When a server already answers
 * /healthz on the port, it prints that server's address and returns; otherwise it starts
 * `serve --http` here (which prints the address) and keeps serving. The token itself is never printed:
 * only where it is.
 */
export async function dashboard(options: ServeOptions): Promise<void> {
  const host = options.host?.trim() || '127.0.0.1';
  const port = options.port === undefined ? DEFAULT_HTTP_PORT : Number(options.port);
  const address = `http://${urlHostname(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)}:${port}/`;
  if (port !== 0 && (await answers(new URL(HEALTH_PATH, address)))) {
    const dir = projectDir(settingsFor(options));
    const token = process.env[HTTP_TOKEN_VARIABLE] ? `the token is in ${HTTP_TOKEN_VARIABLE}` : `the token is in ${path.join(dir, '.task_orchestrator', TOKEN_FILE_NAME)}`;
    process.stderr.write(`task-orchestrator: a server already answers on port ${port}\ntask-orchestrator: dashboard at ${address} (${token}; open ${address}?token=<token> or enter it in the page)\n`);
    return;
  }
  await (await import('../serve-http.js')).serveHttp({ ...options, http: true });
}

/** Whether a task-orchestrator HTTP server answers there (its /healthz says {"status":"ok"}). */
async function answers(url: URL): Promise<boolean> {
  try {
    const reply = await fetch(url, { signal: AbortSignal.timeout(1500) });
    const body = (await reply.json()) as { status?: unknown };
    return reply.ok && body.status === 'ok';
  } catch {
    return false;
  }
}

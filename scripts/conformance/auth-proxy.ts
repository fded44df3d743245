/**
 * A local forwarding proxy that adds `Authorization: Bearer <token>` to every request.
 *
 * The conformance suite's client sends no Authorization header, and our server refuses every request
 * without one. Rather than start the server with its authentication off (it has no such switch, and it
 * should not), the suite talks to this proxy, which passes each request on to the real server with the
 * token added and nothing else changed: method, path, every header including Host and Origin (so the
 * server's DNS-rebinding checks see what the suite sent), and the body. Replies come back as they are
 * written, chunk by chunk, so SSE streams stay streams.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthProxy {
  /** Where the proxy listens, e.g. http://localhost:41234 (its port is a free one). */
  readonly origin: string;
  readonly port: number;
  /** Stops listening and ends every connection, open streams included. */
  close(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of `target` (its origin: scheme, host, port). */
export async function startAuthProxy(target: URL, token: string): Promise<AuthProxy> {
  const server = createServer((req, res) => forward(req, res, target, token));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return { origin: `http://localhost:${port}`, port, close: () => closeServer(server) };
}

/** The request's headers as received, with the bearer token put in (replacing any Authorization sent). */
export function forwardedHeaders(req: IncomingMessage, token: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = value;
  headers.authorization = `Bearer ${token}`;
  return headers;
}

function forward(req: IncomingMessage, res: ServerResponse, target: URL, token: string): void {
  const upstream = request({
    host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: target.port,
    method: req.method,
    path: req.url,
    headers: forwardedHeaders(req, token), // Host included: node:http sends the one given
  });
  upstream.on('response', (reply) => {
    // rawHeaders keeps the server's names, order and repeated headers as they were.
    res.writeHead(reply.statusCode ?? 502, reply.statusMessage, reply.rawHeaders);
    res.flushHeaders(); // an SSE stream may send nothing for a while: the client must see its headers now
    reply.pipe(res);
    reply.on('error', () => res.destroy());
  });
  upstream.on('error', (error) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`auth proxy: the server did not answer (${error.message})`);
  });
  // The client went away (an SSE stream closed, a request abandoned): the server must see it go too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

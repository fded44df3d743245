/** The conformance runner's proxy: the request reaches the server as it was sent, with the bearer token added. */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startAuthProxy, type AuthProxy } from '../../scripts/conformance/auth-proxy.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const TOKEN = 'proxy-test-token-0123456789';

describe('the auth proxy', () => {
  let upstream: Server;
  let proxy: AuthProxy;
  const seen: Seen[] = [];
  /** Released by a test to let the streaming reply send its second event. */
  let releaseSecondEvent: () => void = () => undefined;

  before(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
        if (req.url === '/stream') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Mcp-Session-Id': 'session-1' });
          res.write('id: 1\ndata: first\n\n');
          releaseSecondEvent = () => res.end('id: 2\ndata: second\n\n');
          return;
        }
        res.writeHead(404, 'Nope', [['Content-Type', 'application/json'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']].flat()).end('{"error":"not here"}');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    proxy = await startAuthProxy(new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`), TOKEN);
  });

  after(async () => {
    await proxy?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('method, path, Host, Origin, other headers and the body arrive unchanged; Authorization is added', async () => {
    const body = Buffer.from([0x7b, 0x22, 0xc3, 0xa9, 0x22, 0x7d, 0x00, 0xff]); // not even valid UTF-8: bytes, not text
    const host = 'evil.example.com:4444';
    const reply = await send(proxy.port, { method: 'POST', path: '/mcp?x=1', headers: { Host: host, Origin: 'http://evil.example.com', 'Mcp-Session-Id': 'abc', 'X-Custom': 'kept' }, body });
    const got = seen.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/mcp?x=1');
    assert.equal(got.headers.host, host);
    assert.equal(got.headers.origin, 'http://evil.example.com');
    assert.equal(got.headers['mcp-session-id'], 'abc');
    assert.equal(got.headers['x-custom'], 'kept');
    assert.equal(got.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(got.body, body);
    assert.equal(reply.status, 404, 'the status comes back as the server sent it');
    assert.equal(reply.body, '{"error":"not here"}');
    assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2'], 'repeated headers stay repeated');
  });

  test('an Authorization the client sent is replaced by the token, not passed on', async () => {
    await send(proxy.port, { method: 'GET', path: '/mcp', headers: { Authorization: 'Bearer wrong' } });
    assert.equal(seen.at(-1)!.headers.authorization, `Bearer ${TOKEN}`);
  });

  test('a streamed reply (SSE) reaches the client event by event, before the server ends it', async () => {
    const events: string[] = [];
    const done = new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: proxy.port, path: '/stream', headers: { Accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          events.push(chunk);
          if (events.length === 1) releaseSecondEvent(); // the second event exists only once the first has arrived
        });
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'] }));
      });
      req.on('error', reject);
      req.end();
    });
    const reply = await withTimeout(done, 5_000, 'the first event never arrived on its own: the proxy buffers the stream');
    assert.equal(reply.status, 200);
    assert.equal(reply.type, 'text/event-stream');
    assert.deepEqual(events, ['id: 1\ndata: first\n\n', 'id: 2\ndata: second\n\n']);
  });
});

async function send(port: number, options: { method: string; path: string; headers: Record<string, string>; body?: Buffer }): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

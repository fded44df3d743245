import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import { hostHeaderValidation, originValidation } from '@modelcontextprotocol/node';
import { localhostAllowedHostnames, localhostAllowedOrigins } from '@modelcontextprotocol/server';
import { isWildcard, urlHostname } from './endpoint.js';

/**
 * DNS-rebinding protection. A web page can make a browser send requests to 127.0.0.1 under a name the
 * page's author controls; such a request carries that name in Host (and the page's origin in Origin).
 * So a request is served only when Host names this server (localhost, the bound address, the names
 * given with --allowed-origin) and Origin, when present, is one of those too. The checks are the SDK's
 * (@modelcontextprotocol/node), which answer 403 themselves.
 */
export interface OriginPolicy {
  hostnames: string[];
  originHostnames: string[];
}

/**
 * The hostname an --allowed-origin value names ("https://tasks.example.com", "tasks.example.com:8443",
 * "tasks.example.com"), kept as the SDK's `<scheme>://*` form for browser extensions; null when it names none.
 */
export function allowedOriginHostname(value: string): string | null {
  const text = value.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\/\*$/.test(text) && !/^https?:/.test(text)) return text;
  try {
    const url = new URL(text.includes('://') ? text : `http://${text}`);
    if (!url.hostname || url.hostname.includes('*') || url.pathname.length > 1 || url.search || url.hash || url.username) return null;
    return url.hostname;
  } catch {
    return null;
  }
}

/** Who may call: localhost names, the address the server is bound to (every one of the machine's for 0.0.0.0), and the --allowed-origin names. */
export function originPolicy(boundHost: string, allowedOrigins: string[]): OriginPolicy {
  const own = isWildcard(boundHost) ? machineHostnames() : [urlHostname(boundHost)];
  const extra = allowedOrigins.map((o) => allowedOriginHostname(o)).filter((h): h is string => h !== null);
  const names = (base: string[]) => [...new Set([...base, ...own, ...extra])];
  return { hostnames: names(localhostAllowedHostnames()).filter((h) => !h.includes('://')), originHostnames: names(localhostAllowedOrigins()) };
}

/** A request to a wildcard address may name any of the machine's addresses, or its name: all of them are this server. */
function machineHostnames(): string[] {
  const addresses = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => urlHostname(a.address.replace(/%.*$/, ''))));
  return [...addresses, os.hostname().toLowerCase()];
}

/** Checks Host, then Origin: true to go on; false when a 403 has been sent. */
export function passesOriginPolicy(policy: OriginPolicy): (req: IncomingMessage, res: ServerResponse) => boolean {
  const hostCheck = hostHeaderValidation(policy.hostnames);
  const originCheck = originValidation(policy.originHostnames);
  return (req, res) => hostCheck(req, res) && originCheck(req, res);
}

/** Headers a response to an allowed Origin carries, so that a browser-based client there may read it. */
export function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin) return {};
  return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Expose-Headers': 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate' };
}

/** The answer to a browser's preflight: which methods and headers a request may use (no credentials: the token is a header). */
export function preflightHeaders(req: IncomingMessage): Record<string, string> {
  return {
    ...corsHeaders(req),
    Allow: 'GET, POST, DELETE, OPTIONS',
    'Access-Control-Allow-Methods': 'GET, POST, DELETE',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID',
    'Access-Control-Max-Age': '600',
  };
}

import { isIP } from 'node:net';

/** Where the server answers (and what setup writes into clients' files): light, so that setup loads no server code. */
export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';

/** An address without the brackets a URL puts around IPv6 ("[::1]" -> "::1"): what listen() takes. */
export function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** Whether an address is this machine only (nothing else can connect to it). */
export function isLoopback(host: string): boolean {
  const bare = bareHost(host).toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === '::ffff:127.0.0.1';
}

/** 0.0.0.0 or ::: every address of the machine. */
export function isWildcard(host: string): boolean {
  const bare = bareHost(host);
  return bare === '0.0.0.0' || bare === '::' || bare === '0:0:0:0:0:0:0:0';
}

/** A hostname as URL parsing writes it: IPv6 in brackets, names in lower case. */
export function urlHostname(host: string): string {
  const bare = bareHost(host);
  return isIP(bare) === 6 ? `[${bare.toLowerCase()}]` : bare.toLowerCase();
}

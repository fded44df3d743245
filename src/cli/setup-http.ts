import { statSync } from 'node:fs';
import path from 'node:path';
import { clientHttpTarget, productOf, remoteRefusal, resolveScope, TOKEN_VARIABLE, type ClientName, type TokenDelivery } from '../clients/client-config.js';
import { applyMerge, isRefused, planMerge } from '../clients/json-config.js';
import { isLoopback, MCP_PATH } from '../mcp/http/endpoint.js';
import { TOKEN_FILE_NAME } from '../mcp/http/token.js';
import { STORE_FOLDER } from '../store/file/layout.js';
import { doneMessage, environment, projectFolder, refuse, snippet, type SetupOptions } from './commands/setup.js';
import { printable } from './format.js';
import { EXIT, print, UsageError } from './run.js';

/**
 * `task-orchestrator setup <client> --http URL`: an entry that connects the client to a running
 * `serve --http`, for the clients that take a URL. The token never goes into the file: the entry
 * refers to MCP_TASK_ORCHESTRATOR_HTTP_TOKEN (VS Code: an input it asks for once and keeps secret).
 */
export async function setupHttp(client: ClientName, options: SetupOptions & { http: string }): Promise<number> {
  const refusal = remoteRefusal(client);
  if (refusal) throw new UsageError(`${productOf(client)} cannot take --http: ${refusal}. ${alternative(client)}`);
  const url = serverUrl(options.http);
  const scope = resolveScope(client, options.scope);
  const project = scope === 'project' ? projectFolder(options) : null; // a project's own file lives in it
  const target = clientHttpTarget(client, { scope, name: options.name, url: url.href }, { ...environment(options), projectDir: project ?? process.cwd() });
  const plan = await planMerge(target);
  if (isRefused(plan)) return refuse(printable(plan), target);
  if (options.print) {
    print(`Would ${{ create: 'create', add: 'add to', update: 'update in', unchanged: 'leave unchanged' }[plan.status]} ${plan.file} (${target.product}, ${target.scope} scope):`);
    print(snippet(target));
  } else {
    await applyMerge(plan);
    print(doneMessage(printable(plan), target));
  }
  for (const note of notes(url, target.product, target.token, options)) print(note);
  return EXIT.OK;
}

/** What a client that cannot take a URL can do instead. */
function alternative(client: ClientName): string {
  const local = `run "task-orchestrator setup ${client}" without --http: it gets a server of its own on this machine, which shares the project's tasks with the HTTP server safely (they use the same locks)`;
  return client === 'cline' ? `Add it by hand in Cline's MCP Servers panel ("type": "streamableHttp", the URL, and an Authorization header "Bearer <token>"), or ${local}.` : `Instead, ${local}.`;
}

/** The URL of the MCP endpoint: http or https, no credentials; a bare server address gets /mcp. */
function serverUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--http needs the URL the server printed, such as http://127.0.0.1:8808${MCP_PATH}; got "${value}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--http needs an http:// or https:// URL; got "${value}".`);
  if (url.username || url.password) throw new UsageError('--http: the URL must not carry a user or password; the token is sent as a header, read from the environment.');
  if (url.pathname === '/' || url.pathname === '') url.pathname = MCP_PATH;
  return url;
}

/** Where the token comes from, where it is, and what crosses the network unprotected. */
function notes(url: URL, product: string, delivery: TokenDelivery, options: SetupOptions): string[] {
  const file = tokenFileHere(options);
  const where = file ? file : `${STORE_FOLDER}/${TOKEN_FILE_NAME} in the folder the server runs in (the path it printed when it started), or the server's own ${TOKEN_VARIABLE}`;
  const lines = [`Connects to ${url.href}; each ${product} session is its own agent there.`];
  if (delivery === 'prompt') lines.push(`${product} asks for the token the first time it connects and keeps it in its secret storage: paste the content of ${where}.`);
  else lines.push(`The token is not in the file: ${product} reads it from ${TOKEN_VARIABLE} in the environment it starts with. Before starting ${product}: export ${TOKEN_VARIABLE}="$(cat ${file ?? '<token file>'})"${file ? '' : ` (the token file: ${where})`}.`);
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) lines.push(`Warning: ${url.host} is reached over plain http://, so the token crosses the network unencrypted; put the server behind an HTTPS reverse proxy and use its https:// URL.`);
  return lines;
}

/** The token file of the project setup runs in, when a server there generated one. */
function tokenFileHere(options: SetupOptions): string | null {
  let dir: string;
  try {
    dir = projectFolder(options);
  } catch {
    return null;
  }
  const file = path.join(dir, STORE_FOLDER, TOKEN_FILE_NAME);
  return statSync(file, { throwIfNoEntry: false })?.isFile() ? file : null;
}

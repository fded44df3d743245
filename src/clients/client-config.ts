import path from 'node:path';
import { OrchestratorError } from '../domain/errors.js';

/** Where each MCP client keeps its server list, and the entry that starts this server. */
export const CLIENTS = ['claude-code', 'claude-desktop', 'cursor', 'vscode', 'windsurf', 'cline'] as const;
export type ClientName = (typeof CLIENTS)[number];
export type Scope = 'project' | 'user';

export interface ClientEnvironment {
  home: string;
  platform: NodeJS.Platform;
  /** %APPDATA% on Windows. */
  appData: string | null;
  /** The project folder, for project-scoped files. */
  projectDir: string;
}

export interface Launch {
  command: string;
  args: string[];
}

/**
 * How the server learns which project it works on:
 * - `start-folder`: the client starts it in the project (Claude Code: the folder `claude` runs in);
 * - `workspace-folder`: the entry says `${workspaceFolder}`, which the client expands to the folder it has open;
 * - `fixed`: the entry names the folder (MCP_TASK_ORCHESTRATOR_BASE_DIR), for clients that start servers elsewhere;
 * - `remote`: the entry connects to a running server (serve --http), which works on the folder it was started in.
 */
export type ProjectBinding = 'start-folder' | 'workspace-folder' | 'fixed' | 'remote';

export interface ClientTarget {
  client: ClientName;
  /** The product's own name, for messages ("Claude Desktop", not "claude-desktop"). */
  product: string;
  scope: Scope;
  binding: ProjectBinding;
  file: string;
  /** The key holding the server map: "servers" for VS Code, "mcpServers" elsewhere. */
  key: 'mcpServers' | 'servers';
  name: string;
  entry: Record<string, unknown>;
  /** VS Code's top-level "inputs" the entry refers to (by id), merged beside the server map. */
  inputs?: ClientInput[];
}

/** A VS Code input variable: asked for once, then kept in VS Code's secret storage. */
export interface ClientInput {
  type: 'promptString';
  id: string;
  description: string;
  password: true;
}

/** The variable an HTTP entry reads the bearer token from, in the clients that expand variables in their files. */
export const TOKEN_VARIABLE = 'MCP_TASK_ORCHESTRATOR_HTTP_TOKEN';

/**
 * How a client connects to a server at a URL, with the token kept out of its file (each client's
 * documented syntax): `environment` clients expand a variable when they start, `prompt` (VS Code) asks
 * once and keeps it in its secret storage. A string: why the client cannot take such an entry.
 */
type RemoteSpec =
  | { token: 'environment' | 'prompt'; entry(url: string, inputId: string): Record<string, unknown>; inputs?(inputId: string): ClientInput[] }
  | string;

const bearer = (reference: string) => ({ Authorization: `Bearer ${reference}` });

interface ClientSpec {
  product: string;
  /**
   * Whether it starts servers with the PATH of the user's shell. Claude Desktop, opened from the desktop,
   * does not (a command found in a terminal fails there with "spawn ... ENOENT"); Claude Code runs in a
   * terminal, and the VS Code family (Cursor, Windsurf, Cline inside VS Code) reads the login shell's
   * environment when opened from the desktop.
   */
  shellPath: boolean;
  /** Its scopes, the default first, each with how the server finds the project from a file of that scope. */
  scopes: Partial<Record<Scope, ProjectBinding>>;
  file(env: ClientEnvironment, scope: Scope): string;
  key: ClientTarget['key'];
  /** Fields the client expects besides command, args and env. */
  extra: Record<string, unknown>;
  remote: RemoteSpec;
}

/**
 * Claude Code starts servers in the folder it runs in, at either scope. Cursor and VS Code expand
 * ${workspaceFolder} in a project's file, and it keeps that file valid for everyone who clones the
 * project. Their user-wide files, and Claude Desktop, Windsurf and Cline, start servers in a folder of
 * their own choosing (Claude Desktop: "/"), so the entry names the project.
 */
const SPECS: Record<ClientName, ClientSpec> = {
  'claude-code': {
    product: 'Claude Code', shellPath: true, scopes: { project: 'start-folder', user: 'start-folder' }, file: (e, s) => (s === 'project' ? path.join(e.projectDir, '.mcp.json') : path.join(e.home, '.claude.json')), key: 'mcpServers', extra: { type: 'stdio' },
    // Claude Code expands ${VAR} in url and headers of .mcp.json.
    remote: { token: 'environment', entry: (url) => ({ type: 'http', url, headers: bearer(`\${${TOKEN_VARIABLE}}`) }) },
  },
  'claude-desktop': {
    product: 'Claude Desktop', shellPath: false, scopes: { user: 'fixed' }, file: (e) => path.join(appSupport(e), 'Claude', 'claude_desktop_config.json'), key: 'mcpServers', extra: {},
    remote: 'its configuration file only starts local servers (servers at a URL are added in its Settings, under Connectors, which sign in with OAuth rather than send a bearer token)',
  },
  cursor: {
    product: 'Cursor', shellPath: true, scopes: { project: 'workspace-folder', user: 'fixed' }, file: (e, s) => path.join(s === 'project' ? e.projectDir : e.home, '.cursor', 'mcp.json'), key: 'mcpServers', extra: {},
    // Cursor interpolates ${env:NAME} in url and headers.
    remote: { token: 'environment', entry: (url) => ({ url, headers: bearer(`\${env:${TOKEN_VARIABLE}}`) }) },
  },
  vscode: {
    product: 'VS Code', shellPath: true, scopes: { project: 'workspace-folder', user: 'fixed' }, file: (e, s) => (s === 'project' ? path.join(e.projectDir, '.vscode', 'mcp.json') : path.join(vsCodeUserDir(e), 'mcp.json')), key: 'servers', extra: { type: 'stdio' },
    // VS Code's documented place for secrets in mcp.json: an input, asked for once and kept in its secret storage.
    remote: {
      token: 'prompt',
      entry: (url, inputId) => ({ type: 'http', url, headers: bearer(`\${input:${inputId}}`) }),
      inputs: (inputId) => [{ type: 'promptString', id: inputId, description: 'Bearer token of the task-orchestrator HTTP server (its .task_orchestrator/http-token, or MCP_TASK_ORCHESTRATOR_HTTP_TOKEN)', password: true }],
    },
  },
  windsurf: {
    product: 'Windsurf', shellPath: true, scopes: { user: 'fixed' }, file: (e) => path.join(e.home, '.codeium', 'windsurf', 'mcp_config.json'), key: 'mcpServers', extra: {},
    // Windsurf names the URL serverUrl and interpolates ${env:NAME} in it and in headers.
    remote: { token: 'environment', entry: (url) => ({ serverUrl: url, headers: bearer(`\${env:${TOKEN_VARIABLE}}`) }) },
  },
  cline: {
    product: 'Cline', shellPath: true, scopes: { user: 'fixed' }, file: (e) => path.join(vsCodeUserDir(e), 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'), key: 'mcpServers', extra: { disabled: false },
    remote: 'its settings file can name a URL ("type": "streamableHttp") but expands no variable in its headers, so the token would have to be written into the file, which setup does not do',
  },
};

export function isClient(name: string): name is ClientName {
  return (CLIENTS as readonly string[]).includes(name);
}

export function productOf(client: ClientName): string {
  return SPECS[client].product;
}

export function seesShellPath(client: ClientName): boolean {
  return SPECS[client].shellPath;
}

/** The scope asked for, or the client's default; a scope the client lacks is refused with the ones it has. */
export function resolveScope(client: ClientName, scope: string | undefined): Scope {
  const scopes = Object.keys(SPECS[client].scopes) as Scope[];
  if (scope === undefined) return scopes[0]!;
  if (!(scopes as string[]).includes(scope)) throw new OrchestratorError('INVALID_INPUT', `${client} has no "${scope}" scope; use ${scopes.map((s) => `--scope ${s}`).join(' or ')}.`);
  return scope as Scope;
}

/** How a server started from this client's file of this scope finds the project (see ProjectBinding). */
export function projectBinding(client: ClientName, scope: Scope): ProjectBinding {
  return SPECS[client].scopes[scope]!;
}

/**
 * The file to change and the entry to put in it. `fixedBaseDir` names the project through
 * MCP_TASK_ORCHESTRATOR_BASE_DIR (the caller gives it for a `fixed` binding, or to override another);
 * otherwise a `workspace-folder` entry gets ${workspaceFolder}, and a `start-folder` entry no folder at all.
 */
export function clientTarget(client: ClientName, options: { scope: Scope; name: string; launch: Launch; fixedBaseDir: string | null }, env: ClientEnvironment): ClientTarget {
  const spec = SPECS[client];
  const scope = resolveScope(client, options.scope);
  const binding = options.fixedBaseDir ? 'fixed' : projectBinding(client, scope);
  if (binding === 'fixed' && !options.fixedBaseDir) throw new Error(`${spec.product} at ${scope} scope needs the project folder`);
  const baseDir = binding === 'fixed' ? options.fixedBaseDir : binding === 'workspace-folder' ? '${workspaceFolder}' : null;
  const entry = { ...spec.extra, command: options.launch.command, args: options.launch.args, ...(baseDir ? { env: { MCP_TASK_ORCHESTRATOR_BASE_DIR: baseDir } } : {}) };
  return { client, product: spec.product, scope, binding, file: spec.file(env, scope), key: spec.key, name: options.name, entry };
}

/** ~/Library/Application Support on macOS, %APPDATA% on Windows, ~/.config elsewhere. */
function appSupport(env: ClientEnvironment): string {
  if (env.platform === 'darwin') return path.join(env.home, 'Library', 'Application Support');
  if (env.platform === 'win32') return env.appData ?? path.join(env.home, 'AppData', 'Roaming');
  return path.join(env.home, '.config');
}

function vsCodeUserDir(env: ClientEnvironment): string {
  return path.join(appSupport(env), 'Code', 'User');
}

/** How the person gives the token to a client's HTTP entry: from the environment, or when the client asks. */
export type TokenDelivery = 'environment' | 'prompt';

/** Why `client` cannot take an HTTP entry, or null when it can. */
export function remoteRefusal(client: ClientName): string | null {
  const remote = SPECS[client].remote;
  return typeof remote === 'string' ? remote : null;
}

/**
 * The file to change and the entry that connects to a running server at `url` (serve --http). The
 * server decides the project; the entry names none. The token stays out of the file (see RemoteSpec).
 */
export function clientHttpTarget(client: ClientName, options: { scope: Scope; name: string; url: string }, env: ClientEnvironment): ClientTarget & { token: TokenDelivery } {
  const spec = SPECS[client];
  const remote = spec.remote;
  if (typeof remote === 'string') throw new Error(`${spec.product} cannot connect to a URL: ${remote}`);
  const scope = resolveScope(client, options.scope);
  const inputId = `${options.name.replace(/[^A-Za-z0-9_-]+/g, '-')}-token`;
  const inputs = remote.inputs?.(inputId);
  return { client, product: spec.product, scope, binding: 'remote', file: spec.file(env, scope), key: spec.key, name: options.name, entry: remote.entry(options.url, inputId), ...(inputs ? { inputs } : {}), token: remote.token };
}

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

export interface ClientTarget {
  client: ClientName;
  scope: Scope;
  file: string;
  /** The key holding the server map: "servers" for VS Code, "mcpServers" elsewhere. */
  key: 'mcpServers' | 'servers';
  name: string;
  entry: Record<string, unknown>;
}

interface ClientSpec {
  scopes: Scope[];
  file(env: ClientEnvironment, scope: Scope): string;
  key: ClientTarget['key'];
  /** Fields the client expects besides command, args and env. */
  extra: Record<string, unknown>;
}

const SPECS: Record<ClientName, ClientSpec> = {
  'claude-code': { scopes: ['project', 'user'], file: (e, s) => (s === 'project' ? path.join(e.projectDir, '.mcp.json') : path.join(e.home, '.claude.json')), key: 'mcpServers', extra: { type: 'stdio' } },
  'claude-desktop': { scopes: ['user'], file: (e) => path.join(appSupport(e), 'Claude', 'claude_desktop_config.json'), key: 'mcpServers', extra: {} },
  cursor: { scopes: ['project', 'user'], file: (e, s) => path.join(s === 'project' ? e.projectDir : e.home, '.cursor', 'mcp.json'), key: 'mcpServers', extra: {} },
  vscode: { scopes: ['project', 'user'], file: (e, s) => (s === 'project' ? path.join(e.projectDir, '.vscode', 'mcp.json') : path.join(vsCodeUserDir(e), 'mcp.json')), key: 'servers', extra: { type: 'stdio' } },
  windsurf: { scopes: ['user'], file: (e) => path.join(e.home, '.codeium', 'windsurf', 'mcp_config.json'), key: 'mcpServers', extra: {} },
  cline: { scopes: ['user'], file: (e) => path.join(vsCodeUserDir(e), 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'), key: 'mcpServers', extra: { disabled: false } },
};

export function isClient(name: string): name is ClientName {
  return (CLIENTS as readonly string[]).includes(name);
}

export function scopesOf(client: ClientName): Scope[] {
  return SPECS[client].scopes;
}

/**
 * The file to change and the entry to put in it. `baseDir` fixes the project folder through
 * MCP_TASK_ORCHESTRATOR_BASE_DIR (for user-wide files, whose clients may start the server anywhere);
 * VS Code's workspace file gets ${workspaceFolder}, which VS Code expands.
 */
export function clientTarget(client: ClientName, options: { scope?: string; name: string; launch: Launch; baseDir: string | null }, env: ClientEnvironment): ClientTarget {
  const spec = SPECS[client];
  const scope = (options.scope ?? spec.scopes[0]) as Scope;
  if (!spec.scopes.includes(scope)) {
    throw new OrchestratorError('INVALID_INPUT', `${client} has no "${options.scope}" scope; use ${spec.scopes.map((s) => `--scope ${s}`).join(' or ')}.`);
  }
  const baseDir = options.baseDir ?? (client === 'vscode' && scope === 'project' ? '${workspaceFolder}' : null);
  const entry = { ...spec.extra, command: options.launch.command, args: options.launch.args, ...(baseDir ? { env: { MCP_TASK_ORCHESTRATOR_BASE_DIR: baseDir } } : {}) };
  return { client, scope, file: spec.file(env, scope), key: spec.key, name: options.name, entry };
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

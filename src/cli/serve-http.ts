import { DEFAULT_HTTP_PORT, encryptionConfigured, HTTP_TOKEN_VARIABLE, InvalidSettingError, MIN_REMOTE_TOKEN_LENGTH, readHttpSettings, type HttpSettings, type Settings } from '../config.js';
import { FileLogger } from '../logging/logger.js';
import { maxConnectionsFor, McpHttpServer } from '../mcp/http/http-server.js';
import { isLoopback } from '../mcp/http/endpoint.js';
import { allowedOriginHostname } from '../mcp/http/request-checks.js';
import { resolveToken, type TokenSource } from '../mcp/http/token.js';
import { ProjectHost } from '../mcp/project-host.js';
import { createServer } from '../mcp/server.js';
import type { ServeOptions } from './commands/serve.js';
import { surviveUncaught, watchSignals } from './host-watch.js';
import { projectDir, settingsFor, UsageError } from './run.js';

/** The whole shutdown, SIGTERM to exit: the calls in flight get DRAIN_MS of it. */
const EXIT_DEADLINE_MS = 9_500;
const DRAIN_MS = 8_000;
const DEFAULT_HOST = '127.0.0.1';

/**
 * `task-orchestrator serve --http`: one server for many clients. Nothing is written to stdout; stderr
 * gets two lines a script can read, then the log:
 *
 *   task-orchestrator: serving MCP over HTTP at http://127.0.0.1:8808/mcp
 *   task-orchestrator: bearer token in /project/.task_orchestrator/http-token
 *
 * (or "bearer token from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN"). The project is the folder it starts in
 * (or --base-dir), fixed for every session: working_directory cannot move a shared server.
 */
export async function serveHttp(options: ServeOptions): Promise<void> {
  const settings = settingsFor(options);
  const http = readHttpSettings();
  const host = options.host?.trim() || DEFAULT_HOST;
  const port = portOf(options.port);
  const allowedOrigins = checkedOrigins(options.allowedOrigin ?? []);
  if (!isLoopback(host) && http.token !== null) refuseShortToken(http.token.length, host, HTTP_TOKEN_VARIABLE);
  const dir = projectDir(settings); // an unusable folder stops it here: no client could fix it
  const logger = new FileLogger({ level: settings.logLevel, deferred: true , withoutQuotes: encryptionConfigured(settings) });
  const projectHost = new ProjectHost(dir, fixedFolder(settings, dir), logger);
  let server: McpHttpServer;
  try {
    const project = await projectHost.project();
    const bearer = await resolveToken(http.token, project.layout.root);
    if (!isLoopback(host)) refuseShortToken(bearer.token.length, host, bearer.source.kind === 'file' ? `the token file ${bearer.source.file}` : HTTP_TOKEN_VARIABLE);
    server = new McpHttpServer({ host, port, allowedOrigins, token: bearer.token, limits: http, createServer: (agentId) => createServer(projectHost.forAgent(agentId), logger), logger, dashboard: { orchestrator: async (agentId) => (await projectHost.orchestrator()).actingAs(agentId) } });
    const url = await server.listen();
    announce(url, host, bearer.source, http, logger);
  } catch (error) {
    await projectHost.close().catch(() => undefined);
    await logger.close();
    throw error;
  }
  stopOnSignals(server, projectHost, logger);
}

/** The settings with the project folder fixed: a session's working_directory must not move every other session's project. */
function fixedFolder(settings: Settings, dir: string): Settings {
  return settings.baseDirFromEnv ? settings : { ...settings, baseDirFromEnv: dir, baseDirOrigin: 'the folder "serve --http" was started in' };
}

function portOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_HTTP_PORT;
  const port = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (port >= 0 && port <= 65_535) return port;
  throw new UsageError(`--port must be a whole number from 0 to 65535 (0: any free port); got "${value}".`);
}

function checkedOrigins(values: string[]): string[] {
  for (const value of values) {
    if (allowedOriginHostname(value) === null) throw new UsageError(`--allowed-origin "${value}" names no host: pass an origin such as https://tasks.example.com or a host name such as tasks.example.com.`);
  }
  return values;
}

/** A server other machines can reach is only as safe as its token is long. */
function refuseShortToken(length: number, host: string, source: string): void {
  if (length >= MIN_REMOTE_TOKEN_LENGTH) return;
  throw new InvalidSettingError(`--host ${host} lets other machines connect, and the token from ${source} has ${length} characters: at least ${MIN_REMOTE_TOKEN_LENGTH} are needed there. Set ${HTTP_TOKEN_VARIABLE} to a longer one (e.g. "openssl rand -base64 32"), or leave it unset to use a generated one.`);
}

/** The two lines scripts read, on stderr (never the token), then the same in the log. */
function announce(url: URL, host: string, source: TokenSource, http: HttpSettings, logger: FileLogger): void {
  const bound = isLoopback(host) ? '' : ` (bound to ${host}: other machines can connect)`;
  const token = source.kind === 'environment' ? `bearer token from ${HTTP_TOKEN_VARIABLE}` : `bearer token in ${source.file}${source.created ? ' (generated now)' : ''}`;
  process.stderr.write(`task-orchestrator: serving MCP over HTTP at ${url.href}${bound}\ntask-orchestrator: ${token}\ntask-orchestrator: dashboard at ${new URL('/', url).href} (open it with ?token=<token>, or enter the token in the page)\n`);
  logger.info(`Serving MCP over HTTP at ${url.href}${bound}; ${token}`, {
    pid: process.pid,
    idle_seconds: http.idleMs / 1000,
    max_sessions: http.maxSessions,
    max_calls_per_session: http.maxCallsPerSession,
    max_body_bytes: http.maxBodyBytes,
    max_connections: maxConnectionsFor(http),
  });
}

/**
 * SIGTERM, SIGINT, SIGHUP: stop accepting, let the calls in flight finish (each is one atomic write:
 * cut off, it is either done or not), close, exit within 10 s. A stream of uncaught errors does the same.
 */
function stopOnSignals(server: McpHttpServer, projectHost: ProjectHost, logger: FileLogger): void {
  let stopping = false;
  const stop = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info(`Shutting down: ${reason}; finishing the calls in flight`);
    setTimeout(() => {
      logger.warn(`Shutdown took longer than ${EXIT_DEADLINE_MS} ms; exiting without waiting further`);
      process.exit(exitCode);
    }, EXIT_DEADLINE_MS).unref();
    const unfinished = await server.shutdown(DRAIN_MS).catch(() => -1);
    if (unfinished > 0) logger.warn(`${unfinished} call(s) were still running after ${DRAIN_MS} ms; their clients get no reply (each call's write is atomic: done or not)`);
    await projectHost.close().catch(() => undefined);
    logger.info('Stopped');
    await logger.close();
    process.exit(exitCode);
  };
  watchSignals((reason) => void stop(reason));
  surviveUncaught(logger, (reason) => void stop(reason, 1));
}

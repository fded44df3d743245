import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { chooseProjectFolder, encryptionConfigured } from '../../config.js';
import { createServer } from '../../mcp/server.js';
import { ProjectHost } from '../../mcp/project-host.js';
import { FileLogger } from '../../logging/logger.js';
import { SHUTDOWN_DEADLINE_MS, surviveUncaught, watchHost } from '../host-watch.js';
import { settingsFor, UsageError, type BaseOptions } from '../run.js';
import { showServeBanner } from '../serve-banner.js';

export interface ServeOptions extends BaseOptions {
  /** Serve MCP Streamable HTTP (src/cli/serve-http.ts) instead of stdio. */
  http?: boolean;
  port?: string;
  host?: string;
  allowedOrigin?: string[];
}

/** --port, --host and --allowed-origin without --http would be silently ignored: say so instead. */
function refuseHttpOnlyOptions(options: ServeOptions): void {
  const given = [options.port !== undefined && '--port', options.host !== undefined && '--host', options.allowedOrigin?.length && '--allowed-origin'].filter(Boolean);
  if (given.length) throw new UsageError(`${given.join(', ')} ${given.length === 1 ? 'applies' : 'apply'} only to the server over HTTP: add --http.`);
}

/**
 * `task-orchestrator serve`: the MCP server on stdio (with --http: over HTTP, see serve-http.ts).
 * stdout carries only protocol messages. An invalid setting stops it at start (the message reaches the
 * client's log); an unusable project folder does not: each tool call then says why, so that the
 * assistant can tell the user.
 */
export async function serve(options: ServeOptions): Promise<void> {
  if (options.http) return (await import('../serve-http.js')).serveHttp(options);
  refuseHttpOnlyOptions(options);
  showServeBanner();
  const settings = settingsFor(options);
  const logger = new FileLogger({ level: settings.logLevel, deferred: true , withoutQuotes: encryptionConfigured(settings) });
  const folder = chooseProjectFolder(settings);
  const fixed = settings.baseDirFromEnv !== null;
  const baseDir = folder.problem && !fixed ? null : folder.dir;
  if (folder.problem) logger.warn(`${fixed ? `${folder.origin} is ${folder.dir}` : `Started in ${folder.dir}`}, which cannot hold the tasks: ${folder.problem}. ${fixed ? 'Tool calls are refused with NO_PROJECT_FOLDER.' : 'Waiting for working_directory from orchestrator_initialize_session.'}`);
  const host = new ProjectHost(baseDir, settings, logger, folder.problem && !fixed ? { dir: folder.dir, problem: folder.problem } : null);
  const server = createServer(host, logger);
  // Open the project in the background, so the first tool call finds the index ready; errors surface on that call.
  if (baseDir && !folder.problem) host.project().catch((error: Error) => logger.error(`Cannot open ${baseDir}: ${error.message}`));

  let closing = false;
  const shutdown = async (reason: string, exitCode = 0) => {
    if (closing) return;
    closing = true;
    logger.info(`Shutting down: ${reason}`); // to the log file: stderr may be what failed
    setTimeout(() => {
      logger.warn(`Shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting without waiting further`);
      process.exit(exitCode);
    }, SHUTDOWN_DEADLINE_MS).unref();
    await server.close().catch(() => undefined);
    await host.close().catch(() => undefined);
    await logger.close();
    process.exit(exitCode);
  };
  watchHost((reason) => void shutdown(reason));
  surviveUncaught(logger, (reason) => void shutdown(reason, 1));

  // Say in the log why the connection ended, then exit: the SDK closes it on a request over 10 MiB,
  // the same bound clients put on messages (requests below it meet the tools' own text limits).
  const transport = new StdioServerTransport();
  transport.onerror = (error) => logger.warn(`MCP connection: ${error.message}`);
  transport.onclose = () => void shutdown('the MCP connection closed');
  await server.connect(transport);
  logger.info(`task-orchestrator serving on stdio (pid ${process.pid})`);
}

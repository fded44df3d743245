import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { resolveBaseDir } from '../../config.js';
import { createServer } from '../../mcp/server.js';
import { ProjectHost } from '../../mcp/project-host.js';
import { FileLogger } from '../../storage/logger.js';
import { settingsFor, type BaseOptions } from '../run.js';
import { showServeBanner } from '../serve-banner.js';

/** `task-orchestrator serve`: the MCP server on stdio. stdout carries only protocol messages. */
export async function serve(options: BaseOptions): Promise<void> {
  showServeBanner();
  const settings = settingsFor(options);
  const logger = new FileLogger({ level: settings.logLevel });
  const baseDir = resolveBaseDir(settings);
  if (!baseDir) logger.warn(`Started in ${process.cwd()}, which is not a project folder; waiting for working_directory from orchestrator_initialize_session.`);
  const host = new ProjectHost(baseDir, settings, logger);
  const server = createServer(host, logger);
  // Open the project in the background, so the first tool call finds the index ready; errors surface on that call.
  if (baseDir) host.project().catch((error: Error) => logger.error(`Cannot open ${baseDir}: ${error.message}`));

  let closing = false;
  const shutdown = async (reason: string) => {
    if (closing) return;
    closing = true;
    logger.info(`Shutting down (${reason})`);
    await server.close().catch(() => undefined);
    await host.close();
    await logger.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.stdin.on('end', () => void shutdown('the client closed stdin'));
  process.on('uncaughtException', (error) => logger.error(`Uncaught exception: ${error.message}`, { stack: error.stack }));
  process.on('unhandledRejection', (error) => logger.error(`Unhandled rejection: ${String(error)}`, { stack: (error as Error)?.stack }));

  await server.connect(new StdioServerTransport());
  logger.info(`task-orchestrator serving on stdio (pid ${process.pid})`);
}

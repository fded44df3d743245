import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { chooseProjectFolder } from '../../config.js';
import { createServer } from '../../mcp/server.js';
import { ProjectHost } from '../../mcp/project-host.js';
import { FileLogger } from '../../storage/logger.js';
import { settingsFor, type BaseOptions } from '../run.js';

/**
 * `task-orchestrator serve`: the MCP server on stdio. stdout carries only protocol messages. An invalid
 * setting stops it at start (the message reaches the client's log); an unusable project folder does
 * not: each tool call then says why, so that the assistant can tell the user.
 */
export async function serve(options: BaseOptions): Promise<void> {
  const settings = settingsFor(options);
  const logger = new FileLogger({ level: settings.logLevel });
  const folder = chooseProjectFolder(settings);
  const fixed = settings.baseDirFromEnv !== null;
  const baseDir = folder.problem && !fixed ? null : folder.dir;
  if (folder.problem) logger.warn(`${fixed ? `${folder.origin} is ${folder.dir}` : `Started in ${folder.dir}`}, which cannot hold the tasks: ${folder.problem}. ${fixed ? 'Tool calls are refused with NO_PROJECT_FOLDER.' : 'Waiting for working_directory from orchestrator_initialize_session.'}`);
  const host = new ProjectHost(baseDir, settings, logger, folder.problem && !fixed ? { dir: folder.dir, problem: folder.problem } : null);
  const server = createServer(host, logger);
  // Open the project in the background, so the first tool call finds the index ready; errors surface on that call.
  if (baseDir && !folder.problem) host.project().catch((error: Error) => logger.error(`Cannot open ${baseDir}: ${error.message}`));

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

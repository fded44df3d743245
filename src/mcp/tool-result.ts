import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from '../app/ports.js';
import { OrchestratorError } from '../domain/errors.js';

/** A successful tool reply: structured content for programs, readable text for the model and people. */
export function toolResult(structured: object, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured as Record<string, unknown> };
}

/**
 * Turns any failure into an isError reply the model can act on. OrchestratorErrors carry their code
 * and fix; anything else is a bug or an I/O failure, logged with its stack and reported plainly.
 */
export function errorResult(error: unknown, logger: Logger): CallToolResult {
  if (error instanceof OrchestratorError) {
    logger.info(`Refused: ${error.code}: ${error.message}`);
    return {
      isError: true,
      content: [{ type: 'text', text: `${error.code}: ${error.message}` }],
      structuredContent: { error: { code: error.code, message: error.message, data: error.data } },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  logger.error(`Unexpected failure: ${message}`, { stack: error instanceof Error ? error.stack : undefined });
  return {
    isError: true,
    content: [{ type: 'text', text: `INTERNAL_ERROR: ${message}. The change was not acknowledged; check .task_orchestrator/logs/orchestrator.log and try again.` }],
    structuredContent: { error: { code: 'INTERNAL_ERROR', message } },
  };
}

export async function runTool<T extends object>(logger: Logger, work: () => Promise<T>, render: (result: T) => string): Promise<CallToolResult> {
  try {
    const result = await work();
    return toolResult(result, render(result));
  } catch (error) {
    return errorResult(error, logger);
  }
}

import type { CallToolResult, McpServer, StandardSchemaV1, StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { Logger } from '../app/ports.js';
import { OrchestratorError, type ErrorCode } from '../domain/errors.js';

/**
 * Where a refusal carries its machine-readable `{ code, message, data }`: a namespaced `_meta` key (MCP key
 * format: a `label/` prefix, then a name). Not structuredContent: clients on SDK v1 check structuredContent
 * against the tool's outputSchema even on isError replies and turn the refusal into a protocol error.
 */
export const ERROR_META_KEY = 'task-orchestrator/error';

export interface ErrorMeta {
  code: ErrorCode | 'INTERNAL_ERROR';
  message: string;
  data?: Record<string, unknown>;
}

/** A successful tool reply: structured content for programs, readable text for the model and people. */
export function toolResult(structured: object, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured as Record<string, unknown> };
}

/** An isError reply whose text starts with the code, and no structuredContent (see ERROR_META_KEY). */
function refusal(text: string, error: ErrorMeta): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], _meta: { [ERROR_META_KEY]: error } };
}

/**
 * Turns any failure into an isError reply the model can act on. OrchestratorErrors carry their code
 * and fix; anything else is a bug or an I/O failure, logged with its stack and reported plainly.
 */
export function errorResult(error: unknown, logger: Logger): CallToolResult {
  if (error instanceof OrchestratorError) {
    logger.info(`Refused: ${error.code}: ${error.message}`);
    return refusal(`${error.code}: ${error.message}`, { code: error.code, message: error.message, data: error.data });
  }
  const message = error instanceof Error ? error.message : String(error);
  logger.error(`Unexpected failure: ${message}`, { stack: error instanceof Error ? error.stack : undefined });
  return refusal(`INTERNAL_ERROR: ${message}. The change was not acknowledged; check .task_orchestrator/logs/orchestrator.log and try again.`, { code: 'INTERNAL_ERROR', message });
}

export async function runTool<T extends object>(logger: Logger, work: () => Promise<T>, render: (result: T) => string): Promise<CallToolResult> {
  try {
    const result = await work();
    return toolResult(result, render(result));
  } catch (error) {
    return errorResult(error, logger);
  }
}

/** Arguments that failed the tool's input schema, handed to the handler wrapper instead of the SDK's own refusal. */
const MISMATCH = Symbol('input schema mismatch');
type Mismatch = { [MISMATCH]: readonly StandardSchemaV1.Issue[] };
const isMismatch = (args: unknown): args is Mismatch => typeof args === 'object' && args !== null && MISMATCH in args;

/**
 * The same schema (same JSON Schema in tools/list, same parsing) except that a mismatch is passed on as a
 * value rather than reported as issues, so our handler wrapper, not the SDK, words the refusal.
 */
function passingMismatchOn(schema: StandardSchemaWithJSON): StandardSchemaWithJSON {
  const std = schema['~standard'];
  return {
    '~standard': {
      version: 1,
      vendor: std.vendor,
      jsonSchema: std.jsonSchema,
      validate: async (value: unknown) => {
        const result = await std.validate(value);
        return result.issues ? { value: { [MISMATCH]: result.issues } } : result;
      },
    },
  };
}

function fieldOf(issue: StandardSchemaV1.Issue): string {
  const keys = (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment));
  return keys.length ? keys.join('.') : '(arguments)';
}

function invalidInput(tool: string, issues: readonly StandardSchemaV1.Issue[]): OrchestratorError {
  const problems = issues.map((issue) => ({ field: fieldOf(issue), problem: issue.message.replace(/^Invalid input: /, '') }));
  const list = problems.map((p) => `${p.field}: ${p.problem}`).join('; ');
  return new OrchestratorError('INVALID_INPUT', `${list}. Correct ${problems.length === 1 ? 'this argument' : 'these arguments'} (see the input schema of ${tool}) and call it again.`, { tool, issues: problems });
}

/**
 * The server as the tool files see it: registerTool wraps each tool so that arguments failing its input schema
 * (a wrong type, an unknown enum value, a missing field) are refused like every other refusal, text starting
 * with INVALID_INPUT and naming the field, code in _meta, rather than the SDK's uncoded "Input validation error".
 * Only the public registerTool and the Standard Schema contract are used; the SDK itself is untouched.
 */
export function refusingBadInput(server: McpServer, logger: Logger): McpServer {
  const register = server.registerTool.bind(server) as (name: string, config: object, handler: (...args: unknown[]) => unknown) => unknown;
  const registerTool = (name: string, config: { inputSchema?: unknown }, handler: (...args: unknown[]) => unknown) => {
    const schema = config.inputSchema as StandardSchemaWithJSON | undefined;
    if (!schema?.['~standard']?.jsonSchema) return register(name, config, handler); // a raw shape: left to the SDK
    const guarded = (args: unknown, ctx: unknown) => (isMismatch(args) ? errorResult(invalidInput(name, args[MISMATCH]), logger) : handler(args, ctx));
    return register(name, { ...config, inputSchema: passingMismatchOn(schema) }, guarded);
  };
  return new Proxy(server, {
    get(target, key) {
      if (key === 'registerTool') return registerTool;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The floor: the smallest useful MCP server built with the same SDK and transport as task-orchestrator,
 * with one trivial tool. The bench compiles it to plain JavaScript (bench/.work/minimal-server.mjs) so
 * its cold start is not inflated by a TypeScript loader, just as the real server runs from dist/.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

const server = new McpServer({ name: 'minimal', version: '1.0.0' });

server.registerTool(
  'ping',
  {
    title: 'Ping',
    description: 'Answers pong: the cheapest possible tool call.',
    inputSchema: z.object({ message: z.string().optional().describe('Echoed back.') }),
  },
  async ({ message }) => ({ content: [{ type: 'text', text: message ?? 'pong' }] }),
);

process.stdin.on('end', () => process.exit(0));
await server.connect(new StdioServerTransport());

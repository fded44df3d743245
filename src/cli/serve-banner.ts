import { CLIENTS } from '../clients/client-config.js';

/**
 * What `serve` says when a person starts it by hand (stdin is a terminal), on stderr: stdout is the
 * MCP channel even then. A client starts the server with pipes, so it never sees this.
 */
export function serveBanner(stdinIsTerminal: boolean): string | null {
  if (!stdinIsTerminal) return null;
  return [
    'task-orchestrator serve: the task-orchestrator MCP server.',
    'An MCP client starts this; it speaks JSON-RPC on stdin/stdout, so typing here does nothing useful.',
    `  Connect a client:  task-orchestrator setup <client>   (${CLIENTS.join(', ')})`,
    '  See it work:       task-orchestrator demo',
    'Serving anyway; press Ctrl-C to stop.',
    '',
  ].join('\n');
}

export function showServeBanner(stdin: { isTTY?: boolean } = process.stdin): void {
  const banner = serveBanner(stdin.isTTY === true);
  if (banner) process.stderr.write(banner);
}

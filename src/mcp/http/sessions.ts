import { randomBytes, randomUUID } from 'node:crypto';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../../app/ports.js';

/**
 * One MCP session over HTTP: its own McpServer and transport (the SDK keeps a session's state in its
 * transport), its own agent for leases, and the calls it has waiting for replies.
 */
export interface HttpSession {
  readonly id: string;
  readonly agentId: string;
  readonly transport: NodeStreamableHTTPServerTransport;
  readonly server: McpServer;
  /** When a request of this session last started or ended (ms). */
  lastActive: number;
  /** Its JSON-RPC requests still waiting for their replies. */
  callsInFlight: number;
  /**
   * The JSON-RPC ids of its requests the SDK is still answering. The SDK maps each id to the HTTP
   * response that waits for it: a second request with the same id would take over that mapping and
   * leave the first response waiting forever, so such a request is refused before the SDK sees it.
   */
  readonly idsInFlight: Set<string | number>;
}

export interface SessionLimits {
  maxSessions: number;
  idleMs: number;
}

/** The agent that calls of a session act for when they name no agent_id: random, so that the session id (a credential of sorts) is never written into task files. */
function newAgentId(): string {
  return `http-${randomBytes(6).toString('hex')}`;
}

/**
 * The open sessions: created by an initialize request, ended by DELETE, by being idle longer than
 * `idleMs`, or by shutdown. At most `maxSessions` exist or are being opened at once.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, HttpSession>();
  private opening = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly limits: SessionLimits,
    /** Builds the McpServer of a new session, whose calls act for `agentId`. */
    private readonly createServer: (agentId: string) => McpServer,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    // Checked often enough that a session outlives its idle time by at most a quarter of it (and 30 s).
    this.sweeper = setInterval(() => void this.closeIdle(), Math.max(250, Math.min(limits.idleMs / 4, 30_000)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): HttpSession | undefined {
    return this.sessions.get(id);
  }

  /** Calls waiting for replies in every session: what a shutdown waits for. */
  get callsInFlight(): number {
    let total = 0;
    for (const session of this.sessions.values()) total += session.callsInFlight;
    return total + this.opening; // an initialize being answered is a call too
  }

  /**
   * A new session's server and transport, not yet registered: the transport registers it when it
   * answers the initialize request (and gives it its id). Null when the limit is reached. The caller
   * must call `settle` once the initialize request is answered, whatever happened.
   */
  open(): { transport: NodeStreamableHTTPServerTransport; server: McpServer; settle: () => Promise<void> } | null {
    if (this.sessions.size + this.opening >= this.limits.maxSessions) return null;
    this.opening++;
    const agentId = newAgentId();
    const server = this.createServer(agentId);
    let registered: HttpSession | null = null;
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      // Replies as one JSON body per POST: our tools send nothing before their result, and a client
      // that drops the connection mid-call then only misses the reply; the call itself runs to its end.
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        registered = { id, agentId, transport, server, lastActive: this.now(), callsInFlight: 0, idsInFlight: new Set() };
        this.sessions.set(id, registered);
        this.logger.info(`HTTP session opened: calls naming no agent_id act for ${agentId}`, { sessions: this.sessions.size });
      },
      onsessionclosed: (id) => this.forget(id, 'the client ended it (DELETE)'),
    });
    transport.onclose = () => {
      if (registered) this.forget(registered.id, 'its transport closed');
    };
    const settle = async () => {
      this.opening--;
      if (!registered) await server.close().catch(() => undefined); // the initialize was refused: nothing to keep
    };
    return { transport, server, settle };
  }

  /** Ends a session now: its open streams close, and its id is refused with 404 from then on. */
  async close(id: string, reason: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.forget(id, reason);
    await session.server.close().catch((error: Error) => this.logger.warn(`Closing HTTP session ${session.agentId}: ${error.message}`));
  }

  async closeAll(reason: string): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id, reason)));
  }

  /** Sessions with no call in flight and no request for longer than idleMs. */
  private async closeIdle(): Promise<void> {
    const now = this.now();
    const idle = [...this.sessions.values()].filter((s) => s.callsInFlight === 0 && now - s.lastActive > this.limits.idleMs);
    await Promise.all(idle.map((s) => this.close(s.id, `idle for more than ${Math.round(this.limits.idleMs / 1000)} s`)));
  }

  private forget(id: string, reason: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.logger.info(`HTTP session of ${session.agentId} ended: ${reason}`, { sessions: this.sessions.size });
  }
}

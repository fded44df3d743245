import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL, to make the database "go away" and "come back" for one test
 * without touching the cluster other tests use: stop() closes the port and cuts every connection
 * through it (as a restart or a network cut does); start() opens the same port again;
 * restartSilently() leaves idle connections dead without telling the clients.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Client connections whose database side is gone without them being told (see restartSilently). */
  private readonly orphans = new Set<net.Socket>();
  /** Each client connection and its connection to the database. */
  private readonly pairs = new Map<net.Socket, net.Socket>();
  port = 0;
  /**
   * When set, the first message from a client that it matches is passed on to the database, and then
   * the connection is cut before any answer comes back (a network cut at the worst moment).
   */
  cutAfter: ((chunk: Buffer) => boolean) | null = null;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /**
   * A database restart as idle connections meet it after a network cut: the database side of every
   * connection is gone, the clients are not told, and each learns it (a reset) when it next sends
   * something. New connections work at once.
   */
  restartSilently(): void {
    for (const [client, upstream] of this.pairs) {
      this.orphans.add(client);
      upstream.destroy();
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.orphans.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.pairs.set(client, upstream);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.pairs.delete(client);
        if (this.orphans.has(client)) {
          if (socket === client) this.orphans.delete(client);
          return; // an orphan stays open until it sends something
        }
        client.destroy();
        // The database reads what it was sent before it sees the end (a cut client's last message included).
        if (socket === upstream) upstream.destroy();
        else upstream.end();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (this.orphans.has(client)) return void client.resetAndDestroy();
      if (!this.cutAfter?.(chunk)) return void upstream.write(chunk);
      this.cutAfter = null;
      client.destroy(); // the client hears nothing more
      upstream.end(chunk); // the database gets the message, then the end of the connection
    });
    upstream.pipe(client);
  }
}

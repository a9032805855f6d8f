import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 in front of one server, able to cut every connection it carries. */
export interface TcpProxy {
  /** The proxy's URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** From now on, each connection (open or new) is destroyed this many ms after it opened; `undefined`: never. */
  cutAfter(ms: number | undefined): void;
  close(): Promise<void>;
}

/** Starts a proxy forwarding to `target` (`http://host:port`). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<{ client: Socket; upstream: Socket; openedAt: number; timer?: NodeJS.Timeout }>();
  let accepted = 0;
  let cutMs: number | undefined;
  const schedule = (pair: { client: Socket; upstream: Socket; openedAt: number; timer?: NodeJS.Timeout }): void => {
    clearTimeout(pair.timer);
    if (cutMs === undefined) return;
    const cut = (): void => {
      pair.client.destroy();
      pair.upstream.destroy();
    };
    const inMs = pair.openedAt + cutMs - Date.now();
    // a connection already past its cut goes now, before the caller sends anything more on it
    if (inMs <= 0) cut();
    else pair.timer = setTimeout(cut, inMs);
  };
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ host: hostname, port: Number(port) });
    const pair = { client, upstream, openedAt: Date.now() } as {
      client: Socket;
      upstream: Socket;
      openedAt: number;
      timer?: NodeJS.Timeout;
    };
    pairs.add(pair);
    const end = (): void => {
      clearTimeout(pair.timer);
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    schedule(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    get accepted() {
      return accepted;
    },
    cutAfter(ms) {
      cutMs = ms;
      for (const pair of pairs) schedule(pair);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of pairs) {
          pair.client.destroy();
          pair.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isKadError } from '../kad/errors.js';
import { MAINLINE_BOOTSTRAP } from '../kad/node/bootstrap-entries.js';
import { createNode } from '../kad/node/node.js';
import type { KadNodeOptions } from '../kad/node/options.js';
import type { KadNode } from '../kad/node/types.js';
import type { DaemonConfig } from './config.js';
import { DaemonError } from './errors.js';
import { createLogger } from './log.js';
import { meteredRegistry } from './metered-registry.js';
import { DaemonMetrics } from './metrics.js';
import { createApiServer, type ApiServerOptions } from './server.js';
import { openStorage, type DaemonStorage } from './storage.js';
import { loadOrCreateToken } from './token.js';
import { endpointText, parseHostPort } from './values.js';

/** What {@link startDaemon} takes besides the config. */
export interface DaemonDeps {
  /** The log. @default a pino JSON log on stdout at `config.logLevel` */
  readonly logger?: Logger;
  /** Options of the HTTP API. */
  readonly api?: ApiServerOptions;
}

/** A running daemon: a node, its storage, the HTTP API. */
export interface Daemon {
  readonly node: KadNode;
  readonly config: DaemonConfig;
  /** Base URL of the API and dashboard (`http://127.0.0.1:7401`), with the port actually bound. */
  readonly url: string;
  /** The API's bearer token. */
  readonly token: string;
  readonly logger: Logger;
  /**
   * Stops gracefully: the API stops accepting and lets requests in flight finish, the node
   * closes (writing its state to the state dir), the storage closes. Idempotent.
   */
  close(): Promise<void>;
}

/** Whether an HTTP bind address reaches only this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The node's bootstrap list of the `bootstrap` setting. */
export function bootstrapEntries(bootstrap: string): readonly string[] {
  if (bootstrap === 'mainline') return MAINLINE_BOOTSTRAP;
  if (bootstrap === 'none') return [];
  return bootstrap.split(',').map((entry) => entry.trim());
}

/**
 * Starts a daemon from its effective config (see `resolveConfig`): checks the settings, reads
 * or makes the API token, opens the storage, starts the node and the API. Rejects with
 * `INVALID_CONFIG` for a bad setting (and for a non-loopback `http` without a `token`); what it
 * had started is closed again.
 */
export async function startDaemon(config: DaemonConfig, deps: DaemonDeps = {}): Promise<Daemon> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const http = parseHostPort(config.http, '--http');
  if (!isLoopbackHost(http.host) && config.token === null) {
    throw DaemonError.invalidConfig(
      '--http',
      `binds ${http.host}, which is not loopback: give an explicit --token (or NAUTILUS_TOKEN) to expose the API`,
    );
  }
  const token = config.token ?? (await loadOrCreateToken(config.stateDir));
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const storage: DaemonStorage = await openStorage(config.storage, { signal: AbortSignal.timeout(10_000) });
    cleanup.push(() => storage.close());
    // the store is metered from the start; the metrics read the node, so they come once it exists
    const meters: { metrics?: DaemonMetrics } = {};
    const observe = (name: 'node' | 'records') => (operation: string, seconds: number, outcome: string) =>
      meters.metrics?.observeRegistry(name, operation, seconds, outcome);
    const store = meteredRegistry(storage.node, observe('node'));
    const node = await createNode(nodeOptions(config, store)).catch((error: unknown) => {
      if (isKadError(error, 'INVALID_OPTION') || isKadError(error, 'INVALID_ADDRESS')) {
        throw new DaemonError('INVALID_CONFIG', error.message, { cause: error });
      }
      throw error;
    });
    cleanup.unshift(() => node.close());
    logNodeEvents(node, logger);
    const metrics = new DaemonMetrics({ node, store });
    meters.metrics = metrics;
    const info = { storage: storage.kind, readOnly: config.readOnly, stateDir: config.stateDir };
    const records = meteredRegistry(storage.records, observe('records'));
    const app = await createApiServer({ node, records, metrics, logger, token, info }, deps.api);
    cleanup.unshift(() => app.close());
    const url = await listen(app, http);
    logger.info(
      {
        id: Buffer.from(node.id).toString('hex'),
        udp: node.addresses().map((a) => endpointText(a.host, a.port)),
        http: url,
        storage: storage.kind,
      },
      'nautilus daemon started',
    );
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        logger.info('stopping: finishing requests in flight, saving state');
        for (const step of cleanup) await step();
        logger.info('stopped');
      })());
    return { node, config, url, token, logger, close };
  } catch (error) {
    for (const step of cleanup) await step().catch(() => undefined);
    throw error;
  }
}

function nodeOptions(config: DaemonConfig, registry: KadNodeOptions['registry']): KadNodeOptions {
  return {
    host: config.host,
    port: config.port,
    ...(config.host6 === null ? {} : { host6: config.host6 }),
    ...(config.port6 === null ? {} : { port6: config.port6 }),
    bootstrap: bootstrapEntries(config.bootstrap),
    stateDir: config.stateDir,
    // not told to be read-only: read-only only while firewalled (BEP 43), writable once mapped
    readOnly: config.readOnly ? true : 'auto',
    portMapping: config.portMapping,
    ...(registry === undefined ? {} : { registry }),
  };
}

/**
 * Starts listening on `http` (`host:port`, port 0 for a free one); resolves with the base URL
 * carrying the port bound. `INVALID_CONFIG` naming `--http` when the address cannot be bound.
 */
export async function listen(app: FastifyInstance, http: { host: string; port: number }): Promise<string> {
  try {
    await app.listen({ host: http.host, port: http.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw DaemonError.invalidConfig('--http', `cannot listen on ${endpointText(http.host, http.port)}: ${code}`);
    }
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : http.port;
  return `http://${endpointText(http.host, port)}`;
}

function logNodeEvents(node: KadNode, logger: Logger): void {
  node.on('state:restored', (e) =>
    logger.info({ contacts: e.contacts, publications: e.publications, savedAt: e.savedAt }, 'state restored'),
  );
  node.on('state:discarded', (e) =>
    logger.warn({ reason: e.reason, detail: e.detail, keptAs: e.keptAs }, 'saved state discarded'),
  );
  node.on('state:error', (e) => logger.error({ err: e.error }, 'writing state failed'));
  node.on('bootstrap:retry', (e) =>
    logger.warn({ attempt: e.attempt, delayMs: e.delayMs, reason: e.reason.message }, 'bootstrap failed; retrying'),
  );
  node.ready.then(
    () => logger.info({ contacts: node.stats().contacts }, 'node ready'),
    () => undefined,
  );
}

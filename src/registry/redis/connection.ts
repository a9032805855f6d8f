import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { RedisClient, RedisCluster, RESP_TYPES } from '@redis/client';
import { RegistryError } from '../errors.js';
import type { LuaScript } from './scripts.js';
import { keySlot } from './key-slot.js';

/** An argument of a Redis command: text (sent as UTF-8) or bytes. */
export type RedisArg = string | Buffer;

/** How to reach Redis; validated by the registry before it gets here. */
export interface ConnectionConfig {
  readonly url: string | undefined;
  readonly cluster: readonly string[] | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean | TlsConnectionOptions;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly maxQueuedCommands: number;
}

/** One Redis server (a standalone server, or one cluster master) that commands go to directly. */
export interface RedisNode {
  send(args: readonly RedisArg[]): Promise<unknown>;
}

// Bulk strings as Buffers (values are binary, keys any UTF-8), and no per-command timeout:
// the client's default (5 s) arms an AbortSignal.timeout per command, which costs ~4× on
// batched small commands; the registry keeps one deadline per operation instead.
const COMMAND_OPTIONS = Object.freeze({ typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer }, timeout: 0 });

// One client class (and one cluster class) for every connection. `createClient(options)` builds a
// class with every Redis command on its prototype whenever its options differ from the previous
// call's (a one-entry cache keyed on all of them, the URL included): 20–200 ms of CPU that
// blocks the event loop, so a process connecting to several servers stalled the connects
// already under way past their deadline. The class depends only on what is left out here
// (modules, functions, scripts, RESP), so one made without them serves every connection.
let clientFactory: ReturnType<typeof RedisClient.factory> | undefined;
let clusterFactory: ReturnType<typeof RedisCluster.factory> | undefined;

function newClient(
  options: Parameters<ReturnType<typeof RedisClient.factory>>[0] & { commandOptions: typeof COMMAND_OPTIONS },
) {
  clientFactory ??= RedisClient.factory();
  return clientFactory(options);
}

function newCluster(
  options: Parameters<ReturnType<typeof RedisCluster.factory>>[0] & { commandOptions: typeof COMMAND_OPTIONS },
) {
  clusterFactory ??= RedisCluster.factory();
  return clusterFactory(options);
}

type Client = ReturnType<typeof newClient>;

/** The client of one server (standalone, or a cluster master), as {@link RedisConnection.nodeOf} gives it. */
export type RedisNodeClient = Pick<Client, 'sendCommand'>;
type Cluster = ReturnType<typeof newCluster>;

/**
 * The one place that knows whether Redis is a standalone server or a cluster: commands are
 * routed by key (the cluster client follows MOVED/ASK redirections and refreshes its slot map),
 * multi-key scripts go to the master serving their keys, and scans visit every master.
 */
export class RedisConnection {
  readonly isCluster: boolean;
  readonly #client: Client | undefined;
  readonly #cluster: Cluster | undefined;
  /**
   * The last error reported by the client's sockets since a connection was last ready, for
   * messages (cleared on `ready`, so a refusal long fixed does not reword later failures).
   */
  lastError: unknown;
  #destroyed = false;

  constructor(config: ConnectionConfig) {
    const socket = {
      connectTimeout: config.connectTimeoutMs,
      // exponential backoff from 50 ms, capped, with jitter so many clients do not reconnect in step
      reconnectStrategy: (retries: number): number =>
        Math.min(config.reconnectMaxDelayMs, 50 * 2 ** Math.min(retries, 10)) * (0.8 + 0.4 * Math.random()),
      ...(config.tls === false ? {} : { tls: true as const, ...(config.tls === true ? {} : config.tls) }),
    };
    const common = {
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      // fail fast while disconnected instead of queueing without bound
      disableOfflineQueue: true,
      commandsQueueMaxLength: config.maxQueuedCommands,
      disableClientInfo: true,
      maintNotifications: 'disabled' as const,
      commandOptions: COMMAND_OPTIONS,
    };
    this.isCluster = config.cluster !== undefined;
    if (config.cluster !== undefined) {
      const cluster = newCluster({
        rootNodes: config.cluster.map((url) => ({ url })),
        defaults: { ...common, socket },
        useReplicas: false,
        commandOptions: COMMAND_OPTIONS,
        // a master that stops answering: look for its replacement soon (default 5 s)
        topologyRefreshOnReconnectionAttemptStrategy: 200,
      });
      cluster.on('error', (error: unknown) => {
        this.lastError = error;
      });
      cluster.on('node-ready', () => {
        this.lastError = undefined;
      });
      this.#cluster = cluster;
    } else {
      const client = newClient({ url: config.url as string, ...common, socket });
      client.on('error', (error: unknown) => {
        this.lastError = error;
      });
      client.on('ready', () => {
        this.lastError = undefined;
      });
      this.#client = client;
    }
  }

  /**
   * Connects. A standalone client fails on the first refused or broken attempt (instead of
   * retrying until the deadline); a cluster client fails once no root node answers.
   */
  async connect(): Promise<void> {
    if (this.#cluster !== undefined) {
      await this.#cluster.connect().then(() => this.#destroyedMeanwhile());
      return;
    }
    await connectOnce(this.#client as Client);
    this.#destroyedMeanwhile();
  }

  /**
   * A new connection of its own (same server, credentials and TLS) to the server that holds
   * `key` (in a cluster: its slot's master in the cached slot map), for a blocking command such
   * as `XREAD BLOCK` that would stall every other command on a shared one. Fails on the first
   * refused or broken attempt. The caller destroys it.
   */
  async dedicated(key: string): Promise<DedicatedConnection> {
    let base: Client;
    if (this.#cluster === undefined) base = this.#client as Client;
    else {
      const master = this.#cluster.slots[keySlot(key)]?.master;
      if (master === undefined) throw RegistryError.unavailable(`no known master serves the slot of ${key}`);
      base = await this.#cluster.nodeClient(master);
    }
    const client = base.duplicate();
    client.on('error', (error: unknown) => {
      this.lastError = error;
    });
    try {
      await connectOnce(client);
    } catch (error) {
      client.destroy();
      throw error;
    }
    return {
      send: (args) => client.sendCommand(args),
      destroy: () => {
        if (client.isOpen) client.destroy();
      },
    };
  }

  /**
   * Sends a command about `key`. In a cluster it goes straight to the client of the master that
   * owns the key's slot in the cached slot map (the cluster client's own routing costs ~10× per
   * command); a `MOVED`/`ASK` reply (resharding, failover) falls back to the cluster client,
   * which refreshes the map and follows the redirection.
   */
  send(key: string, args: readonly RedisArg[], readonly: boolean): Promise<unknown> {
    if (this.#cluster === undefined) return (this.#client as Client).sendCommand(args);
    return this.sendToSlot(keySlot(key), key, args, readonly).catch((error: unknown) => {
      if (isRedirect(error)) return this.redirect(key, args, readonly);
      throw error;
    });
  }

  /**
   * Like {@link send} for a key of `slot`, without following redirections: a batch of many
   * commands follows them once for the whole batch (see {@link redirect}).
   */
  sendToSlot(slot: number, key: string, args: readonly RedisArg[], readonly: boolean): Promise<unknown> {
    const cluster = this.#cluster;
    if (cluster === undefined) return (this.#client as Client).sendCommand(args);
    const client = cluster.slots[slot]?.master.client;
    if (client === undefined) return cluster.sendCommand(key, readonly, args as RedisArg[]);
    return client.sendCommand(args);
  }

  /** Sends through the cluster client, which refreshes its slot map and follows MOVED/ASK. */
  redirect(key: string, args: readonly RedisArg[], readonly: boolean): Promise<unknown> {
    if (this.#cluster === undefined) return (this.#client as Client).sendCommand(args);
    return this.#cluster.sendCommand(key, readonly, args as RedisArg[]);
  }

  /**
   * Runs `script` on `keys` (all of `slot`) with `EVALSHA`, loading it on `NOSCRIPT` (a
   * restarted or failed-over server has an empty script cache) and following MOVED/ASK.
   */
  eval(script: LuaScript, keys: readonly string[], args: readonly RedisArg[], slot?: number): Promise<unknown> {
    const first = keys[0] as string;
    const command: RedisArg[] = ['EVALSHA', script.sha1, String(keys.length)];
    for (const key of keys) command.push(key);
    for (const arg of args) command.push(arg);
    const withSource = (): RedisArg[] => ['EVAL', script.source, ...command.slice(2)];
    return this.sendToSlot(slot ?? this.slotOf(first), first, command, false).catch((error: unknown) => {
      if (isNoScript(error)) return this.send(first, withSource(), false);
      if (!isRedirect(error)) throw error;
      return this.redirect(first, command, false).catch((again: unknown) => {
        if (isNoScript(again)) return this.redirect(first, withSource(), false);
        throw again;
      });
    });
  }

  /**
   * The server a command about a key of `slot` goes to straight away: the standalone server, or
   * the client of the slot's master in the cached slot map (`undefined` while unknown). Calls
   * for keys of one node share a script call (see {@link evalOn}).
   */
  nodeOf(slot: number): RedisNodeClient | undefined {
    return this.#cluster === undefined ? this.#client : this.#cluster.slots[slot]?.master.client;
  }

  /**
   * Runs a multi-key `script` (keys in `args`; `keys` declares only the change feed's, if any)
   * on `node` with `EVALSHA`, loading it on `NOSCRIPT`. A script that finds a key not served by `node` replies `NOTLOCAL` having
   * written nothing ({@link isNotLocal}): send those keys again slot by slot with {@link eval}.
   */
  evalOn(
    node: RedisNodeClient,
    script: LuaScript,
    args: readonly RedisArg[],
    keys: readonly string[] = [],
  ): Promise<unknown> {
    const command: RedisArg[] = ['EVALSHA', script.sha1, String(keys.length)];
    for (const key of keys) command.push(key);
    for (const arg of args) command.push(arg);
    return node.sendCommand(command).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      command[0] = 'EVAL';
      command[1] = script.source;
      return node.sendCommand(command);
    });
  }

  /** The hash slot of `key` in a cluster; 0 for a standalone server (every key together). */
  slotOf(key: string): number {
    return this.#cluster === undefined ? 0 : keySlot(key);
  }

  /** Every master (the one server in standalone mode), to scan. */
  async masters(): Promise<RedisNode[]> {
    if (this.#cluster === undefined) {
      const client = this.#client as Client;
      return [{ send: (args) => client.sendCommand(args) }];
    }
    const cluster = this.#cluster;
    const clients = await Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
    return clients.map((client) => ({ send: (args) => client.sendCommand(args) }));
  }

  /** The `redis_version` of a server (the first master in a cluster). */
  async serverVersion(): Promise<string> {
    const [node] = await this.masters();
    const info = String(await node?.send(['INFO', 'server']));
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  }

  /** Closes gracefully (pending replies are awaited). */
  async close(): Promise<void> {
    if (this.#cluster !== undefined) await this.#cluster.close();
    else await this.#client?.close();
  }

  /** Closes at once, rejecting whatever is pending. */
  destroy(): void {
    this.#destroyed = true;
    if (this.#cluster !== undefined) this.#cluster.destroy();
    else this.#client?.destroy();
  }

  /**
   * A connect that `destroy()` interrupted (a deadline passed while the socket was being opened)
   * still finishes opening it: the client keeps a socket only once connected, so the destroy did
   * not reach it, and it would stay open (keeping the process alive) for as long as the server is
   * up. Drop it now.
   */
  #destroyedMeanwhile(): void {
    if (!this.#destroyed) return;
    if (this.#cluster !== undefined) this.#cluster.destroy();
    else this.#client?.destroy();
  }
}

/** A connection of one's own ({@link RedisConnection.dedicated}). */
export interface DedicatedConnection {
  send(args: readonly RedisArg[]): Promise<unknown>;
  /** Closes at once, rejecting what is pending. */
  destroy(): void;
}

/** Connects `client`, failing on its first error instead of retrying. */
function connectOnce(client: Client): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    client.once('error', onError);
    client.connect().then(
      () => {
        client.off('error', onError);
        resolve();
      },
      (error: Error) => {
        client.off('error', onError);
        reject(error);
      },
    );
  });
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Redis 7.0 brought the script flags the multi-key scripts declare (see scripts.ts). */
const MIN_MAJOR_VERSION = 7;

/** Rejects a server older than Redis 7.0, naming the version it runs. */
export function checkServerVersion(version: string): void {
  const major = Number.parseInt(version, 10);
  if (!(major >= MIN_MAJOR_VERSION)) {
    throw RegistryError.unavailable(
      `RedisRegistry needs Redis ${MIN_MAJOR_VERSION}.0 or newer; the server runs ${version}`,
    );
  }
}

/** Whether a multi-key script sent to one node found a key that node does not serve. */
export function isNotLocal(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOTLOCAL');
}

/** Whether `error` is a `MOVED` or `ASK` redirection of Redis Cluster. */
export function isRedirect(error: unknown): boolean {
  return error instanceof Error && (error.message.startsWith('MOVED') || error.message.startsWith('ASK'));
}

/** Error replies and client errors that mean "Redis cannot serve this now". */
const UNAVAILABLE_REPLIES = ['CLUSTERDOWN', 'TRYAGAIN', 'LOADING', 'MASTERDOWN', 'READONLY', 'BUSY', 'NOREPLICAS'];

/** Error replies that refuse an argument of the command (a number out of range): not an outage. */
const ARGUMENT_REFUSALS = ['ERR value is not an integer or out of range', 'ERR invalid expire time'];

/** Maps an error of the Redis client to a {@link RegistryError}. */
export function toRegistryError(error: unknown, lastSocketError?: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.constructor.name : '';
  if (message.startsWith('OOM')) {
    return RegistryError.capacityExceeded(`Redis is out of memory (maxmemory with noeviction): ${message}`);
  }
  if (ARGUMENT_REFUSALS.some((reply) => message.startsWith(reply))) {
    // the server is fine: it refused what it was sent (no circuit breaker should count this)
    return new RegistryError('INVALID_OPTION', `Redis refused an argument: ${message}`, { cause: error });
  }
  if (message.startsWith('WRONGTYPE')) {
    return new RegistryError('CODEC_ERROR', `a key in the registry's namespace is not a Nautilus record: ${message}`, {
      cause: error,
    });
  }
  if (name === 'TimeoutError' || name === 'SocketTimeoutError' || name === 'ConnectionTimeoutError') {
    return RegistryError.timeout(`Redis timed out: ${message}`, error);
  }
  const detail = UNAVAILABLE_REPLIES.some((reply) => message.startsWith(reply))
    ? message
    : `${message}${lastSocketError instanceof Error && lastSocketError !== error ? ` (${lastSocketError.message})` : ''}`;
  const refused = refusal(error) ?? refusal(lastSocketError);
  return RegistryError.unavailable(`${refused ?? 'Redis is unavailable'}: ${detail}`, error);
}

/**
 * What a connection refused by configuration (credentials, TLS) needs checked, or undefined.
 * Redis' replies and Node's TLS errors never contain the password, and neither does this.
 */
function refusal(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  if (/^(WRONGPASS|NOAUTH)\b/.test(error.message)) {
    return 'Redis refused the credentials (check username and password, or the user:password of the URL)';
  }
  const code = (error as { code?: unknown }).code;
  // Node's certificate verification codes (SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED…),
  // ERR_TLS_CERT_ALTNAME_INVALID, and OpenSSL alerts such as a missing client certificate
  if (
    typeof code === 'string' &&
    (code.includes('CERT') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))
  ) {
    return `the TLS handshake with Redis failed (${code}: check tls.ca, tls.cert/key and the host name)`;
  }
  return undefined;
}

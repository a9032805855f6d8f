/**
 * RedisRegistry against the raw @redis/client, same server, same keys and values, same run:
 * 100-key batches (keys/s) and 100 concurrent single-key gets/sets (ops/s), on a standalone
 * server and on a local 3-master + 3-replica cluster started for the run.
 * Run: npm run bench (or node dist/bench/registry-redis.js after a build).
 *
 * Anchors: standalone, the raw client with its per-command timeout off (MGET/MSET for batches,
 * GET/SET for single keys). In a cluster, the raw node clients of the slot owners (what a
 * careful user of the raw client does: MGET per slot, GET/SET to the owner); the cluster
 * client's own routing is printed as a reference row.
 */
import { createClient, createCluster, RESP_TYPES } from '@redis/client';
import { keySlot, RedisRegistry } from '../src/registry/redis/index.js';
import { WRITE } from '../src/registry/redis/scripts.js';
import { startRedisCluster, startRedisServer } from '../src/testing/index.js';
import { bestOf, median, opsPerSecond, printTable, type Row } from './harness.js';

const KEYS = 10_000;
const BATCH = 100;
const ITERATIONS = 500;
const ROUNDS = 7;
const TTL = 60_000;
const OPTIONS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer }, timeout: 0 };
const RAW = {
  disableOfflineQueue: true,
  disableClientInfo: true,
  maintNotifications: 'disabled' as const,
  commandOptions: OPTIONS,
};

/** The same keys and values for every measurement: the registry's keys, and the raw client's apart. */
const WORKLOAD = (() => {
  const keys = Array.from({ length: KEYS }, (_, i) => `k:${i}`);
  const batches = Array.from({ length: KEYS / BATCH }, (_, b) => keys.slice(b * BATCH, (b + 1) * BATCH));
  return {
    value: Buffer.alloc(32, 7),
    keys,
    batches,
    rawBatches: batches.map((batch) => batch.map((k) => `raw:${k}`)),
  };
})();

type Send = (key: string, args: (string | Buffer)[]) => Promise<unknown>;

interface Target {
  readonly name: string;
  readonly registry: RedisRegistry;
  /** Raw command to the server owning `key`. */
  readonly send: Send;
  /** Groups of keys one raw multi-key command may carry. */
  readonly groups: (keys: string[]) => string[][];
}

/**
 * Keys (or single-key operations) per second of a raw and a registry operation on batches of
 * BATCH keys: rounds alternate between the two so that drift of a shared machine hits both, and
 * each side's figure is its median round (this VM's neighbours swing single rounds by ±30 %).
 */
async function pair(
  raw: (batch: string[]) => Promise<unknown>,
  rawBatches: string[][],
  reg: (batch: string[]) => Promise<unknown>,
  regBatches: string[][],
): Promise<[number, number]> {
  const rawRounds: number[] = [];
  const regRounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rawRounds.push(await opsPerSecond(ITERATIONS, (i) => raw(rawBatches[i % rawBatches.length] as string[])));
    regRounds.push(await opsPerSecond(ITERATIONS, (i) => reg(regBatches[i % regBatches.length] as string[])));
  }
  return [median(rawRounds) * BATCH, median(regRounds) * BATCH];
}

const K = 1e3;

async function measure(target: Target, label: string): Promise<Row[]> {
  const { registry, send, groups } = target;
  const { value, keys, batches, rawBatches } = WORKLOAD;
  await registry.setMany(keys.map((key) => ({ key, value, ttlMs: TTL })));
  for (const batch of rawBatches) await Promise.all(batch.map((k) => send(k, ['SET', k, value, 'PX', String(TTL)])));

  const [rawGetMany, regGetMany] = await pair(
    (batch) => Promise.all(groups(batch).map((g) => send(g[0] as string, ['MGET', ...g]))),
    rawBatches,
    (batch) => registry.getMany(batch),
    batches,
  );
  const [rawSetMany, regSetMany] = await pair(
    (batch) =>
      Promise.all(
        groups(batch).map((g) =>
          Promise.all([
            send(g[0] as string, ['MSET', ...g.flatMap((k) => [k, value])]),
            ...g.map((k) => send(k, ['PEXPIRE', k, String(TTL)])),
          ]),
        ),
      ),
    rawBatches,
    (batch) => registry.setMany(batch.map((key) => ({ key, value, ttlMs: TTL }))),
    batches,
  );
  const [rawGet, regGet] = await pair(
    (batch) => Promise.all(batch.map((k) => send(k, ['GET', k]))),
    rawBatches,
    (batch) => Promise.all(batch.map((k) => registry.get(k))),
    batches,
  );
  const [rawSet, regSet] = await pair(
    (batch) => Promise.all(batch.map((k) => send(k, ['SET', k, value, 'PX', String(TTL)]))),
    rawBatches,
    (batch) => Promise.all(batch.map((k) => registry.set(k, value, { ttlMs: TTL }))),
    batches,
  );
  await registry.clear();

  const anchor = target.name;
  return [
    {
      what: `${label}: getMany, 100-key batches`,
      anchorName: `${anchor} MGET`,
      anchor: rawGetMany / K,
      nautilus: regGetMany / K,
      unit: 'k keys/s',
      target: '≥ 400 k keys/s, ≥ 0.9×',
    },
    {
      what: `${label}: setMany + TTL, 100-key batches`,
      anchorName: `${anchor} MSET+PEXPIRE`,
      anchor: rawSetMany / K,
      nautilus: regSetMany / K,
      unit: 'k keys/s',
      target: '≥ 400 k keys/s',
    },
    {
      what: `${label}: 100 concurrent get`,
      anchorName: `${anchor} GET`,
      anchor: rawGet,
      nautilus: regGet,
      unit: 'ops/s',
      target: '≥ 300 k ops/s, ≥ 0.9×',
    },
    {
      what: `${label}: 100 concurrent set + TTL`,
      anchorName: `${anchor} SET PX`,
      anchor: rawSet,
      nautilus: regSet,
      unit: 'ops/s',
      target: '≥ 300 k ops/s',
    },
  ];
}

/**
 * The registry's writes against the raw client sending the very same atomic versioned write
 * (the registry's Lua script, `EVALSHA`) itself: what the registry adds on top of the script.
 * Standalone server.
 */
async function measureVersionedWrites(
  raw: { sendCommand(args: (string | Buffer)[]): Promise<unknown> },
  registry: RedisRegistry,
): Promise<Row[]> {
  await raw.sendCommand(['SCRIPT', 'LOAD', WRITE.source]);
  const { value, batches, rawBatches } = WORKLOAD;
  const script = (batch: string[]): (string | Buffer)[] => [
    'EVALSHA',
    WRITE.sha1,
    '0',
    String(Date.now()),
    String(registry.options.expiryGraceMs),
    '',
    ...batch.flatMap((k) => [k, value, String(TTL)]),
  ];
  const [rawSetMany, regSetMany] = await pair(
    (batch) => raw.sendCommand(script(batch)),
    rawBatches,
    (batch) => registry.setMany(batch.map((key) => ({ key, value, ttlMs: TTL }))),
    batches,
  );
  const [rawSet, regSet] = await pair(
    (batch) => Promise.all(batch.map((k) => raw.sendCommand(script([k])))),
    rawBatches,
    (batch) => Promise.all(batch.map((k) => registry.set(k, value, { ttlMs: TTL }))),
    batches,
  );
  await registry.clear();
  const anchorName = 'raw client, same write script';
  return [
    {
      what: 'standalone: setMany + TTL, 100-key batches',
      anchorName,
      anchor: rawSetMany / K,
      nautilus: regSetMany / K,
      unit: 'k keys/s',
      target: '≥ 0.9×',
    },
    {
      what: 'standalone: 100 concurrent set + TTL',
      anchorName,
      anchor: rawSet,
      nautilus: regSet,
      unit: 'ops/s',
      target: '≥ 0.9×',
    },
  ];
}

/**
 * The write cost of the change feed: the same writes through a registry with `changefeed` on,
 * one with it off, and the raw client (MSET+PEXPIRE / SET PX), rounds alternating, same server;
 * and the Redis memory the stream takes per change against a record's own key.
 */
async function measureChangefeed(
  raw: { sendCommand(args: (string | Buffer)[]): Promise<unknown> },
  url: string,
): Promise<Row[]> {
  const off = await RedisRegistry.connect({ url, keyPrefix: 'bench:feed-off:' });
  const on = await RedisRegistry.connect({ url, keyPrefix: 'bench:feed-on:', changefeed: { maxLength: KEYS } });
  try {
    const { value, batches, rawBatches } = WORKLOAD;
    const setMany = (r: RedisRegistry) => (batch: string[]) =>
      r.setMany(batch.map((key) => ({ key, value, ttlMs: TTL })));
    const setEach = (r: RedisRegistry) => (batch: string[]) =>
      Promise.all(batch.map((k) => r.set(k, value, { ttlMs: TTL })));
    const [offSetMany, onSetMany] = await pair(setMany(off), batches, setMany(on), batches);
    const [offSet, onSet] = await pair(setEach(off), batches, setEach(on), batches);
    const [rawSetMany, onSetMany2] = await pair(
      (batch) =>
        Promise.all([
          raw.sendCommand(['MSET', ...batch.flatMap((k) => [k, value])]),
          ...batch.map((k) => raw.sendCommand(['PEXPIRE', k, String(TTL)])),
        ]),
      rawBatches,
      setMany(on),
      batches,
    );
    const [rawSet, onSet2] = await pair(
      (batch) => Promise.all(batch.map((k) => raw.sendCommand(['SET', k, value, 'PX', String(TTL)]))),
      rawBatches,
      setEach(on),
      batches,
    );
    const feed = on.options.changefeed as NonNullable<typeof on.options.changefeed>;
    const streamBytes = Number(await raw.sendCommand(['MEMORY', 'USAGE', feed.streamKey, 'SAMPLES', '0']));
    const entries = Number(await raw.sendCommand(['XLEN', feed.streamKey]));
    const recordBytes = Number(await raw.sendCommand(['MEMORY', 'USAGE', `bench:feed-on:${WORKLOAD.keys[0]}`]));
    await on.clear();
    await off.clear();
    const label = (what: string): string => `standalone, changefeed on: ${what}`;
    return [
      {
        what: label('setMany + TTL, 100-key batches'),
        anchorName: 'changefeed off',
        anchor: offSetMany / K,
        nautilus: onSetMany / K,
        unit: 'k keys/s',
      },
      {
        what: label('100 concurrent set + TTL'),
        anchorName: 'changefeed off',
        anchor: offSet,
        nautilus: onSet,
        unit: 'ops/s',
      },
      {
        what: label('setMany + TTL, 100-key batches'),
        anchorName: 'raw MSET+PEXPIRE',
        anchor: rawSetMany / K,
        nautilus: onSetMany2 / K,
        unit: 'k keys/s',
      },
      {
        what: label('100 concurrent set + TTL'),
        anchorName: 'raw SET PX',
        anchor: rawSet,
        nautilus: onSet2,
        unit: 'ops/s',
      },
      {
        what: `changefeed: Redis memory per change held (${entries} entries, 32 B values)`,
        anchorName: 'the record key itself',
        anchor: recordBytes,
        nautilus: streamBytes / entries,
        unit: 'B',
      },
    ];
  } finally {
    await on.close();
    await off.close();
  }
}

/** Every benchmark of the Redis backend, standalone then cluster (servers started and stopped here). */
export async function benchRegistryRedis(): Promise<Row[]> {
  const rows: Row[] = [];
  const server = await startRedisServer();
  try {
    const raw = createClient({ url: server.url, ...RAW });
    await raw.connect();
    const registry = await RedisRegistry.connect({ url: server.url, keyPrefix: 'bench:' });
    try {
      rows.push(
        ...(await measure(
          {
            name: 'raw client',
            registry,
            send: (_key, args) => raw.sendCommand(args),
            groups: (keys) => [keys],
          },
          'standalone',
        )),
        ...(await measureVersionedWrites(raw, registry)),
        ...(await measureChangefeed(raw, server.url)),
      );
    } finally {
      await registry.close();
      raw.destroy();
    }
  } finally {
    await server.stop();
  }

  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    const raw = createCluster({
      rootNodes: cluster.urls.map((url) => ({ url })),
      defaults: RAW,
      commandOptions: OPTIONS,
    });
    await raw.connect();
    const registry = await RedisRegistry.connect({ cluster: cluster.urls, keyPrefix: 'bench:' });
    try {
      const owner = (key: string) => raw.slots[keySlot(key)]?.master.client;
      const send: Send = (key, args) => owner(key)?.sendCommand(args) ?? raw.sendCommand(key, false, args);
      const groups = (keys: string[]): string[][] => {
        const bySlot = new Map<number, string[]>();
        for (const k of keys) {
          const slot = keySlot(k);
          const group = bySlot.get(slot);
          if (group === undefined) bySlot.set(slot, [k]);
          else group.push(k);
        }
        return [...bySlot.values()];
      };
      rows.push(...(await measure({ name: 'raw node clients', registry, send, groups }, 'cluster')));
      // reference: the raw cluster client routing each command itself
      const keys = Array.from({ length: BATCH }, (_, i) => `raw:k:${i}`);
      const viaCluster = await bestOf(ROUNDS, () =>
        opsPerSecond(300, () => Promise.all(keys.map((k) => raw.sendCommand(k, true, ['GET', k])))),
      );
      const viaRegistry = await bestOf(ROUNDS, () =>
        opsPerSecond(300, () => Promise.all(keys.map((k) => registry.get(k)))),
      );
      rows.push({
        what: 'cluster: 100 concurrent get',
        anchorName: 'raw cluster client routing',
        anchor: viaCluster * BATCH,
        nautilus: viaRegistry * BATCH,
        unit: 'ops/s',
      });
    } finally {
      await registry.close();
      raw.destroy();
    }
  } finally {
    await cluster.stop();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('Redis registry vs raw @redis/client', await benchRegistryRedis());
}

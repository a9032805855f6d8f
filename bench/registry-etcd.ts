/**
 * EtcdRegistry against the raw etcd3 client, same member, same keys and values, same run: get,
 * set with a TTL, compare-and-set, 100-key batches, and watch throughput (changes delivered per
 * second, replayed from history: sets and deletes). And the memory backend's change feed: writes
 * with a watch consuming them against the same writes nobody watches (`benchMemoryFeed`).
 * Run: npm run bench -- registry-etcd (or node --expose-gc dist/bench/registry-etcd.js after a build).
 *
 * Anchors, doing what a careful user of the raw client does for the same guarantee: a range per
 * get; a put under one shared lease for set+TTL; a transaction guarded by the mod_revision it
 * last saw for compare-and-set; one transaction of 100 ranges / 100 puts per batch; a watcher
 * from a revision counting its events (no previous values: the same events the feed's stream
 * asks etcd for). Single-key figures run CONCURRENCY calls in flight, in rounds alternating
 * anchor and registry; there the registry commits concurrent writes together (one transaction
 * for many callers) where the raw client sends one request per call, so the write rows are shown
 * again with one call in flight, each side then sending one request per call. Those rows and the
 * batch figures take one call (one batch) of each side in turn, each timed alone
 * (`medianOfInterleaved`), so the machine's other load falls on both alike.
 * setMany is measured twice: against the blind 100-put transaction, and against one guarding
 * each key by its last seen mod_revision (the guarantee the registry keeps: one version per write).
 * Both batch anchors pass int64s the way the registry does (the lease id as its two 32-bit words,
 * revisions as numbers; the client otherwise parses decimal strings on every request), so the
 * rows compare the transactions, not that encoding.
 */
import { readFile } from 'node:fs/promises';
import { Etcd3, type IRequestOp } from 'etcd3';
import { int64Words } from '../src/registry/etcd/calls.js';
import { EtcdRegistry } from '../src/registry/etcd/index.js';
import { isRegistryError } from '../src/registry/index.js';
import { startEtcdServer } from '../src/testing/index.js';
import { median, medianOfAlternating, medianOfInterleaved, printTable, type Row } from './harness.js';
import { benchMemoryFeed } from './registry-memory.js';

const KEYS = 1000;
const CONCURRENCY = 32;
// calls per round with CONCURRENCY in flight (~0.3 s), and rounds: short rounds, many of them,
// so that each pair of rounds meets the same load of the machine's other jobs
const SINGLE_OPS = 1000;
const SHORT_ROUNDS = 31;
// calls per round with one in flight: one round trip each, ~0.3–0.5 ms
const SERIAL_OPS = 500;
const BATCH = 100;
const BATCHES = 300;
// batches per round of the getMany row in rounds (SHORT_ROUNDS of them)
const ROUND_BATCHES = 100;
const WATCHED = 20_000;
// the watched history: per key, WRITES_PER_DELETE writes then a delete (a quarter removals)
const WRITES_PER_DELETE = 3;
// rounds of the rows taken a call (a batch) of each side in turn; each figure is the median of its rounds
const ROUNDS = 15;
// a replay takes etcd a few hundred ms to prepare, and that time varies more than the clients do
const WATCH_ROUNDS = 15;
const TTL = 60_000;
const VALUE = Buffer.alloc(32, 7);

/** Operations per second of `op` over `total` calls, CONCURRENCY at a time. */
async function concurrent(total: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) await op(next++);
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return total / (Number(process.hrtime.bigint() - start) / 1e9);
}

export async function benchRegistryEtcd(): Promise<Row[]> {
  const server = await startEtcdServer({ args: ['--quota-backend-bytes', String(4 * 1024 ** 3)] });
  const raw = new Etcd3({ hosts: [...server.endpoints] });
  const registry = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'reg:' });
  const rows: Row[] = [];
  try {
    const keys = Array.from({ length: KEYS }, (_, i) => `k:${i}`);
    const rawKey = (i: number): Buffer => Buffer.from(`raw:${keys[i % KEYS] as string}`);
    const key = (i: number): string => keys[i % KEYS] as string;
    const lease = String((await raw.leaseClient.leaseGrant({ TTL: 600 })).ID);
    // the id as protobuf.js takes it without parsing (what the registry passes, see `Int64Words`)
    const leaseWords = int64Words(lease) as unknown as string;
    for (let b = 0; b < KEYS; b += BATCH) {
      const part = keys.slice(b, b + BATCH);
      await registry.setMany(part.map((k) => ({ key: k, value: VALUE })));
      await raw.kv.txn({
        success: part.map((k) => ({ request_put: { key: Buffer.from(`raw:${k}`), value: VALUE } })),
      });
    }
    const member = server.members[0];
    if (member === undefined) throw new Error('no etcd member');
    // CPU of this process and of the etcd member, in ms (etcd's from /proc: clock ticks of 10 ms)
    const cpuMs = async (): Promise<number> => {
      const used = process.cpuUsage();
      const stat = (await readFile(`/proc/${member.pid}/stat`, 'latin1')).split(') ')[1]?.split(' ') ?? [];
      return (used.user + used.system) / 1000 + (Number(stat[11]) + Number(stat[12])) * 10;
    };
    const pair = async (
      what: string,
      unit: string,
      anchor: () => Promise<number>,
      ours: () => Promise<number>,
      { rounds = SHORT_ROUNDS, target = '≥ 0.9× raw' } = {},
    ) => {
      // beside each rate, what it cost: operations per CPU-second of client and etcd together,
      // steadier than wall time on a machine whose other jobs come and go
      const perCpu: [number[], number[]] = [[], []];
      const counted = (measure: () => Promise<number>, into: number[]) => async (): Promise<number> => {
        const cpu = await cpuMs();
        const start = process.hrtime.bigint();
        const rate = await measure();
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        into.push((rate * seconds * 1000) / ((await cpuMs()) - cpu));
        return rate;
      };
      const [a, n] = await medianOfAlternating(rounds, counted(anchor, perCpu[0]), counted(ours, perCpu[1]));
      rows.push({ what, anchorName: 'etcd3 (raw)', anchor: a, nautilus: n, unit, target });
      rows.push({
        what: `${what}: per CPU-second of client + etcd`,
        anchorName: 'etcd3 (raw)',
        anchor: median(perCpu[0]),
        nautilus: median(perCpu[1]),
        unit: unit.replace('/s', '/CPU-s'),
      });
    };

    // one call of each side in turn, each timed alone, medians of ROUNDS rounds of SERIAL_OPS
    // (see `medianOfInterleaved`): a call is one round trip, so the machine's other load falls
    // on both sides alike
    const oneAtATime = async (
      what: string,
      anchor: () => Promise<unknown>,
      ours: () => Promise<unknown>,
    ): Promise<void> => {
      const [a, n] = await medianOfInterleaved({ rounds: ROUNDS, calls: SERIAL_OPS, unitsPerCall: 1 }, anchor, ours);
      rows.push({ what, anchorName: 'etcd3 (raw)', anchor: a, nautilus: n, unit: 'calls/s', target: '≥ 0.9× raw' });
    };

    await pair(
      'get, 32 in flight',
      'calls/s',
      () => concurrent(SINGLE_OPS, (i) => raw.kv.range({ key: rawKey(i) })),
      () => concurrent(SINGLE_OPS, (i) => registry.get(key(i))),
    );
    // the registry merges the writes of concurrent callers into one transaction (group
    // commit); the raw client sends one request per call: at 32 in flight that is not the same
    // work, at 1 in flight it is (one request per call on both sides)
    await pair(
      'set with TTL, 32 in flight (registry group-commits concurrent calls; raw client: one request per call)',
      'calls/s',
      () => concurrent(SINGLE_OPS, (i) => raw.kv.put({ key: rawKey(i), value: VALUE, lease })),
      () => concurrent(SINGLE_OPS, (i) => registry.set(key(i), VALUE, { ttlMs: TTL })),
    );
    // one call in flight: the two sides' calls taken in turn, each timed alone (see `oneAtATime`)
    let rawNext = 0;
    let ourNext = 0;
    await oneAtATime(
      'set with TTL, 1 in flight (one request per call on both sides)',
      () => raw.kv.put({ key: rawKey(rawNext++), value: VALUE, lease }),
      () => registry.set(key(ourNext++), VALUE, { ttlMs: TTL }),
    );

    // compare-and-set: each key written over the revision (raw) or version (registry) last seen.
    // Calls in flight are consecutive keys of KEYS, so every guard holds; a version conflict
    // (the only failure tolerated: any other error fails the bench) is counted, not as throughput
    const revisions = new Map<number, string>();
    const versions = new Map<number, number>();
    const conflicts = { raw: 0, registry: 0 };
    const loadGuards = async (): Promise<void> => {
      for (let i = 0; i < KEYS; i++) {
        revisions.set(i, (await raw.kv.range({ key: rawKey(i) })).kvs[0]?.mod_revision ?? '0');
        versions.set(i, (await registry.get(key(i)))?.version ?? 0);
      }
    };
    const rawCas = async (i: number): Promise<void> => {
      const k = i % KEYS;
      const response = await raw.kv.txn({
        compare: [{ key: rawKey(k), target: 'Mod', result: 'Equal', mod_revision: revisions.get(k) ?? '0' }],
        success: [{ request_put: { key: rawKey(k), value: VALUE } }],
      });
      if (response.succeeded) revisions.set(k, response.header.revision);
      else conflicts.raw++;
    };
    const ourCas = async (i: number): Promise<void> => {
      const k = i % KEYS;
      try {
        versions.set(k, (await registry.set(key(k), VALUE, { ifVersion: versions.get(k) ?? 0 })).version);
      } catch (error) {
        if (!isRegistryError(error) || error.code !== 'VERSION_CONFLICT') throw error;
        conflicts.registry++;
      }
    };
    // successful calls per second
    const succeeded = (side: 'raw' | 'registry', op: (i: number) => Promise<void>) => async (): Promise<number> => {
      const lost = conflicts[side];
      const rate = await concurrent(SINGLE_OPS, op);
      return (rate * (SINGLE_OPS - (conflicts[side] - lost))) / SINGLE_OPS;
    };
    const conflictRow = (what: string): void => {
      rows.push({
        what: `${what}: version conflicts (not counted above)`,
        anchorName: 'etcd3 (raw)',
        anchor: conflicts.raw,
        nautilus: conflicts.registry,
        unit: 'calls',
      });
      conflicts.raw = 0;
      conflicts.registry = 0;
    };
    await loadGuards();
    const casWhat =
      'compare-and-set, 32 in flight (registry group-commits concurrent calls; raw client: one txn per call)';
    await pair(casWhat, 'calls/s', succeeded('raw', rawCas), succeeded('registry', ourCas));
    conflictRow(casWhat);
    const casSerial = 'compare-and-set, 1 in flight (one txn per call on both sides)';
    rawNext = 0;
    ourNext = 0;
    await oneAtATime(
      casSerial,
      () => rawCas(rawNext++),
      () => ourCas(ourNext++),
    );
    // with one call in flight every guard holds: a conflict would be a fault of the bench
    if (conflicts.raw + conflicts.registry > 0) throw new Error('a compare-and-set conflicted with one call in flight');

    const batches = Array.from({ length: KEYS / BATCH }, (_, b) => keys.slice(b * BATCH, (b + 1) * BATCH));
    const rawOps = (batch: string[], op: (k: Buffer) => IRequestOp): IRequestOp[] =>
      batch.map((k) => op(Buffer.from(`raw:${k}`)));
    // batches: anchor and registry one batch each in turn (see `medianOfInterleaved`); a batch
    // takes a few ms, so the load of the machine's other jobs falls on both alike
    const inTurn = (run: (batch: string[]) => Promise<unknown>): (() => Promise<unknown>) => {
      let next = 0;
      return () => run(batches[next++ % batches.length] as string[]);
    };
    const interleaved = async (
      what: string,
      anchor: (batch: string[]) => Promise<unknown>,
      ours: (batch: string[]) => Promise<unknown>,
      target = '≥ 0.9× raw',
    ): Promise<void> => {
      const [a, n] = await medianOfInterleaved(
        { rounds: ROUNDS, calls: BATCHES, unitsPerCall: BATCH },
        inTurn(anchor),
        inTurn(ours),
      );
      rows.push({ what, anchorName: 'etcd3 (raw)', anchor: a, nautilus: n, unit: 'keys/s', target });
    };
    const setManyTtl = (b: string[]): Promise<unknown> =>
      registry.setMany(b.map((k) => ({ key: k, value: VALUE, ttlMs: TTL })));
    await interleaved(
      'getMany, 100-key batches',
      (b) => raw.kv.txn({ success: rawOps(b, (k) => ({ request_range: { key: k } })) }),
      (b) => registry.getMany(b),
    );
    // the same batches in alternating rounds, with what they cost the client and etcd together
    const batchesOf = (run: (batch: string[]) => Promise<unknown>) => async (): Promise<number> => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < ROUND_BATCHES; i++) await run(batches[i % batches.length] as string[]);
      return (ROUND_BATCHES * BATCH * 1e9) / Number(process.hrtime.bigint() - start);
    };
    await pair(
      'getMany, 100-key batches, in rounds',
      'keys/s',
      batchesOf((b) => raw.kv.txn({ success: rawOps(b, (k) => ({ request_range: { key: k } })) })),
      batchesOf((b) => registry.getMany(b)),
    );
    await interleaved(
      'setMany with TTL, 100-key batches (anchor blind: no guard)',
      (b) => raw.kv.txn({ success: rawOps(b, (k) => ({ request_put: { key: k, value: VALUE, lease: leaseWords } })) }),
      setManyTtl,
      // not the same operation: the blind puts give up one version per write (see below)
      '',
    );

    // the same batches against a raw transaction holding the guarantee the registry gives (each
    // key guarded by the mod_revision last seen, so versions stay one per write): the cost of
    // the 100 compares etcd evaluates, apart from the registry's own
    const guardedRevisions = new Map<number, string>();
    let guardedNext = 0;
    for (let b = 0; b < batches.length; b++) {
      const response = await raw.kv.txn({
        success: rawOps(batches[b] as string[], (k) => ({ request_put: { key: k, value: VALUE, lease } })),
      });
      guardedRevisions.set(b, response.header.revision);
    }
    await interleaved(
      'setMany with TTL, 100-key batches (anchor guarded per key)',
      async (b) => {
        const index = guardedNext++ % batches.length;
        const response = await raw.kv.txn({
          compare: b.map((name) => ({
            key: Buffer.from(`raw:${name}`),
            target: 'Mod',
            result: 'Equal',
            mod_revision: Number(guardedRevisions.get(index) ?? '0'),
          })),
          success: rawOps(b, (k) => ({ request_put: { key: k, value: VALUE, lease: leaseWords } })),
        });
        if (!response.succeeded) throw new Error('the guarded anchor lost its revisions');
        guardedRevisions.set(index, response.header.revision);
      },
      setManyTtl,
    );

    // watch: WATCHED changes written first, then replayed from the revision before them; per
    // key WRITES_PER_DELETE writes then a delete, so the feed's removal path (it reads each
    // removed record's version from etcd) is part of what is measured
    const before = Number((await raw.kv.range({ key: Buffer.from('probe') })).header.revision);
    const watchedKeys = keys.slice(0, BATCH).map((k) => `w:${k}`);
    for (let written = 0; written < WATCHED; written += (WRITES_PER_DELETE + 1) * BATCH) {
      for (let w = 0; w < WRITES_PER_DELETE; w++) {
        await registry.setMany(watchedKeys.map((k) => ({ key: k, value: VALUE })));
      }
      if ((await registry.deleteMany(watchedKeys)) !== BATCH) throw new Error('the watched keys were not all live');
    }
    const seenBy = { raw: { removed: 0 }, registry: { removed: 0 } };
    // a raw watcher without previous values: the events the feed's stream asks etcd for
    const rawWatch = async (): Promise<number> => {
      const start = process.hrtime.bigint();
      const watcher = await raw
        .watch()
        .prefix('reg:')
        .startRevision(String(before + 1))
        .create();
      let seen = 0;
      let removed = 0;
      await new Promise<void>((resolve) => {
        watcher.on('put', () => {
          if (++seen === WATCHED) resolve();
        });
        watcher.on('delete', () => {
          removed++;
          if (++seen === WATCHED) resolve();
        });
      });
      const rate = WATCHED / (Number(process.hrtime.bigint() - start) / 1e9);
      await watcher.cancel();
      seenBy.raw.removed = removed;
      return rate;
    };
    const ourWatch = async (): Promise<number> => {
      const start = process.hrtime.bigint();
      let seen = 0;
      let removed = 0;
      for await (const change of registry.watch({ after: String(before) })) {
        if (change.type === 'removed') removed++;
        if (++seen === WATCHED) break;
      }
      seenBy.registry.removed = removed;
      return WATCHED / (Number(process.hrtime.bigint() - start) / 1e9);
    };
    // one replay of each first, untimed: the code of both paths compiled before the rounds
    await rawWatch();
    await ourWatch();
    await pair(
      `watch, changes delivered (replay of ${WATCHED / 1000} k: 3 sets to 1 delete; raw watcher without previous values)`,
      'changes/s',
      rawWatch,
      ourWatch,
      { rounds: WATCH_ROUNDS },
    );
    const expected = WATCHED / (WRITES_PER_DELETE + 1);
    if (seenBy.raw.removed !== expected || seenBy.registry.removed !== expected) {
      throw new Error(
        `the watchers saw ${seenBy.raw.removed} (raw) and ${seenBy.registry.removed} (registry) removals, not ${expected}`,
      );
    }
  } finally {
    await registry.close();
    raw.close();
    await server.stop();
  }

  rows.push(...(await benchMemoryFeed()));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable(
    'etcd registry vs the raw etcd3 client (medians of alternating rounds); memory change feed',
    await benchRegistryEtcd(),
  );
}

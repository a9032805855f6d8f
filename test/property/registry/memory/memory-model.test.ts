import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryRegistry, type RecordRemovedEvent, RegistryError } from '../../../../src/registry/index.js';
import { ManualClock } from '../../../../src/testing/index.js';

// A reference model of a registry, checked against MemoryRegistry over random operations:
// never a stale read, capacity never exceeded, exactly one removal event per removed record.

interface ModelRecord {
  value: string;
  version: number;
  expiresAt: number | undefined;
}

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'p:1', 'p:2', 'p:3', 'q:1'];
const key = fc.constantFrom(...KEYS);
const value = fc.integer({ min: 0, max: 40 }).map((n) => 'x'.repeat(n));
const ttl = fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined });

const op = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      key,
      value,
      ttl,
      cas: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('has' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('touch' as const), key, ttl: fc.integer({ min: 1, max: 60 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 4 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setMany' as const),
      entries: fc.array(fc.record({ key, value, ttl }), { maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('deleteMany' as const), keys: fc.array(key, { maxLength: 4 }) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('scan' as const), prefix: fc.constantFrom('', 'p:', 'q', 'a') }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('size' as const) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const config = fc.record({
  maxEntries: fc.integer({ min: 2, max: 10 }),
  maxBytes: fc.integer({ min: 45, max: 400 }),
  sweepIntervalMs: fc.integer({ min: 1, max: 50 }),
  sweepBatchSize: fc.integer({ min: 1, max: 4 }),
});

type Config = typeof config extends fc.Arbitrary<infer T> ? T : never;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

class Model {
  readonly records = new Map<string, ModelRecord>();
  constructor(readonly clock: ManualClock) {}

  live(k: string): ModelRecord | undefined {
    const r = this.records.get(k);
    return r !== undefined && (r.expiresAt === undefined || r.expiresAt > this.clock.now()) ? r : undefined;
  }

  bytes(): number {
    let total = 0;
    for (const [k, r] of this.records) total += k.length + r.value.length;
    return total;
  }

  /** Applies one removal reported by the registry, checking that it was due. */
  removed(event: RecordRemovedEvent, op: Op, step: number): void {
    const record = this.records.get(event.key);
    assert.ok(record, `${event.reason} event for ${event.key} at step ${step}, which the model does not hold`);
    assert.equal(event.version, record.version);
    const live = this.live(event.key) !== undefined;
    if (event.reason === 'expire') assert.equal(live, false, `${event.key} reported expired while live`);
    else if (event.reason === 'evict') assert.equal(live, true, `${event.key} evicted while already expired`);
    else if (event.reason === 'delete') assert.ok(op.kind === 'delete' || op.kind === 'deleteMany');
    else assert.fail(`unexpected removal reason ${event.reason}`);
    this.records.delete(event.key);
  }

  set(k: string, v: string, ttlMs: number | undefined): void {
    const version = (this.live(k)?.version ?? 0) + 1;
    this.records.set(k, { value: v, version, expiresAt: ttlMs === undefined ? undefined : this.clock.now() + ttlMs });
  }
}

let executed = 0;

async function run(cfg: Config, ops: Op[]): Promise<void> {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ ...cfg, maxValueBytes: 40 }, { clock });
  const model = new Model(clock);
  const events: RecordRemovedEvent[] = [];
  registry.on('record:removed', (e) => events.push(e));

  const checkRead = (k: string, got: { value: Uint8Array; version: number } | undefined): void => {
    const want = model.live(k);
    if (got === undefined) {
      assert.equal(want, undefined, `miss on ${k}, which the model holds live`);
    } else {
      assert.ok(want, `stale or phantom read of ${k}`);
      assert.equal(dec(got.value), want.value);
      assert.equal(got.version, want.version);
    }
  };

  for (const [step, o] of ops.entries()) {
    executed++;
    const liveBefore = (k: string): boolean => model.live(k) !== undefined;
    const deletable = o.kind === 'delete' ? [o.key] : o.kind === 'deleteMany' ? [...new Set(o.keys)] : [];
    const expectedDeleted = deletable.filter(liveBefore).length;
    // the operation runs; events it caused are applied to the model first (they precede its effect)
    let result: unknown;
    let error: unknown;
    try {
      switch (o.kind) {
        case 'set':
          result = await registry.set(o.key, enc(o.value), { ttlMs: o.ttl, ifVersion: o.cas });
          break;
        case 'get':
          result = await registry.get(o.key);
          break;
        case 'has':
          result = await registry.has(o.key);
          break;
        case 'delete':
          result = await registry.delete(o.key);
          break;
        case 'touch':
          result = await registry.touch(o.key, o.ttl);
          break;
        case 'getMany':
          result = await registry.getMany(o.keys);
          break;
        case 'setMany':
          result = await registry.setMany(o.entries.map((e) => ({ key: e.key, value: enc(e.value), ttlMs: e.ttl })));
          break;
        case 'deleteMany':
          result = await registry.deleteMany(o.keys);
          break;
        case 'advance':
          clock.advance(o.ms);
          break;
        case 'scan': {
          const seen: { key: string; value: Uint8Array; version: number }[] = [];
          for await (const r of registry.scan({ prefix: o.prefix })) seen.push(r);
          result = seen;
          break;
        }
        case 'size':
          result = await registry.size();
          break;
      }
    } catch (e) {
      error = e;
    }
    for (const e of events.splice(0)) model.removed(e, o, step);

    switch (o.kind) {
      case 'set': {
        const current = model.live(o.key)?.version ?? 0;
        const tooBig = o.key.length + o.value.length > cfg.maxBytes;
        if (tooBig) {
          assert.ok(error instanceof RegistryError && error.code === 'CAPACITY_EXCEEDED', `step ${step}`);
        } else if (o.cas !== undefined && o.cas !== current) {
          assert.ok(error instanceof RegistryError && error.code === 'VERSION_CONFLICT', `step ${step}`);
        } else {
          assert.equal(error, undefined);
          model.set(o.key, o.value, o.ttl);
          checkRead(o.key, result as { value: Uint8Array; version: number });
        }
        break;
      }
      case 'setMany': {
        const distinct = new Map(o.entries.map((e) => [e.key, e.key.length + e.value.length])); // last write per key
        const total = [...distinct.values()].reduce((a, b) => a + b, 0);
        if (
          distinct.size > cfg.maxEntries ||
          total > cfg.maxBytes ||
          o.entries.some((e) => e.key.length + e.value.length > cfg.maxBytes)
        ) {
          assert.ok(error instanceof RegistryError && error.code === 'CAPACITY_EXCEEDED', `step ${step}`);
        } else {
          assert.equal(error, undefined);
          for (const e of o.entries) model.set(e.key, e.value, e.ttl);
        }
        break;
      }
      case 'get':
        assert.equal(error, undefined);
        checkRead(o.key, result as { value: Uint8Array; version: number } | undefined);
        break;
      case 'has':
        assert.equal(result, model.live(o.key) !== undefined);
        break;
      case 'delete':
      case 'deleteMany':
        // the delete events already removed the records from the model
        assert.equal(error, undefined);
        assert.equal(o.kind === 'delete' ? Number(result) : result, expectedDeleted, `deleted count at step ${step}`);
        for (const k of deletable) assert.equal(model.live(k), undefined);
        break;
      case 'touch': {
        const live = model.live(o.key);
        assert.equal(result, live !== undefined);
        if (live) live.expiresAt = clock.now() + o.ttl;
        break;
      }
      case 'getMany':
        (result as ({ value: Uint8Array; version: number } | undefined)[]).forEach((r, i) =>
          checkRead(o.keys[i] as string, r),
        );
        break;
      case 'scan': {
        const seen = result as { key: string; value: Uint8Array; version: number }[];
        const want = [...model.records.keys()].filter((k) => k.startsWith(o.prefix) && model.live(k)).sort();
        assert.deepEqual(seen.map((r) => r.key).sort(), want);
        for (const r of seen) checkRead(r.key, r);
        break;
      }
      case 'size':
        assert.equal(result, [...model.records.keys()].filter((k) => model.live(k)).length);
        break;
      case 'advance':
        break;
    }

    // the registry holds exactly what the model holds (expired-but-unswept included), within capacity
    const stats = registry.stats();
    assert.equal(stats.entries, model.records.size, `entries at step ${step}`);
    assert.equal(stats.bytes, model.bytes(), `bytes at step ${step}`);
    assert.ok(stats.entries <= cfg.maxEntries);
    assert.ok(stats.bytes <= cfg.maxBytes);
  }
  await registry.close();
}

describe('MemoryRegistry against a reference model', () => {
  it('never serves stale data, never exceeds capacity and reports each removal once over 100,000 random operations', async () => {
    await fc.assert(fc.asyncProperty(config, fc.array(op, { minLength: 1000, maxLength: 1000 }), run), {
      numRuns: 100,
      includeErrorInReport: true,
    });
    assert.ok(executed >= 100_000, `ran ${executed} operations`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BencodeDict, bencode } from '../../../../src/kad/wire/bencode.js';
import { type Contact, decodeNodes, decodePeer } from '../../../../src/kad/wire/compact.js';
import { type HandlerOutcome, QueryHandlers, type QuerySource } from '../../../../src/kad/serve/handlers.js';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import { secureId } from '../../../../src/kad/routing/secure-id.js';
import { KadStorage } from '../../../../src/kad/serve/storage.js';
import { MemoryRegistry } from '../../../../src/registry/index.js';
import { WriteTokens } from '../../../../src/kad/serve/tokens.js';
import { ManualClock } from '../../../../src/testing/index.js';

const SELF = new Uint8Array(20).fill(0x11);
const QUERIER = new Uint8Array(20).fill(0x22);
const INFO_HASH = new Uint8Array(20).fill(0x33);
const FROM: QuerySource = { host: '10.0.0.7', port: 4000, family: 4 };
const FROM6: QuerySource = { host: 'fd00::7', port: 4000, family: 6 };
const T = Uint8Array.of(1, 2);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const keys = keyPairFromSeed(new Uint8Array(32).fill(7));

function contacts(family: 4 | 6, count: number): Contact[] {
  return Array.from({ length: count }, (_, i) => ({
    id: new Uint8Array(20).fill(i + 1),
    host: family === 4 ? `10.1.${i}.1` : `fd00:${i}::1`,
    port: 6881,
  }));
}

function setup(options: { storage?: KadStorage } = {}) {
  const clock = new ManualClock();
  const storage = options.storage ?? new KadStorage({}, { clock, registry: new MemoryRegistry({}, { clock }) });
  const tokens = new WriteTokens({}, { clock });
  const handlers = new QueryHandlers({
    id: SELF,
    storage,
    tokens,
    closest: (_target, family, count) => contacts(family, 20).slice(0, count),
  });
  const ask = (q: string, a: Record<string, unknown>, from: QuerySource = FROM): Promise<HandlerOutcome> =>
    handlers.handle({ q, t: T, a: dict({ id: QUERIER, ...a }) }, from);
  return { clock, storage, tokens, handlers, ask };
}

function dict(entries: Record<string, unknown>): BencodeDict {
  const out = Object.create(null) as BencodeDict;
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v as BencodeDict[string];
  return out;
}

function response(outcome: HandlerOutcome): BencodeDict {
  assert.equal(outcome.kind, 'response', outcome.kind === 'error' ? `error ${outcome.e.join(' ')}` : '');
  return (outcome as { r: BencodeDict }).r;
}

function errorCode(outcome: HandlerOutcome): number {
  assert.equal(outcome.kind, 'error');
  return (outcome as { e: [number, string] }).e[0];
}

async function tokenFor(ask: ReturnType<typeof setup>['ask'], from: QuerySource = FROM): Promise<Uint8Array> {
  return response(await ask('get', { target: INFO_HASH }, from))['token'] as Uint8Array;
}

describe('QueryHandlers ping and find_node', () => {
  it('answers ping with its own id', async () => {
    const { ask } = setup();
    assert.deepEqual(response(await ask('ping', {}))['id'], SELF);
  });

  it('answers find_node with the k closest contacts of the query family', async () => {
    const { ask } = setup();
    const r = response(await ask('find_node', { target: INFO_HASH }));
    assert.equal(decodeNodes(r['nodes'] as Uint8Array, 4).length, 8);
    assert.equal(r['nodes6'], undefined);
    const r6 = response(await ask('find_node', { target: INFO_HASH }, FROM6));
    assert.equal(decodeNodes(r6['nodes6'] as Uint8Array, 6).length, 8);
    assert.equal(r6['nodes'], undefined);
  });

  it('answers find_node with both families when want asks for n4 and n6', async () => {
    const { ask } = setup();
    const r = response(await ask('find_node', { target: INFO_HASH, want: [text('n4'), text('n6')] }));
    assert.ok(r['nodes'] instanceof Uint8Array);
    assert.ok(r['nodes6'] instanceof Uint8Array);
  });

  it('answers 203 when the id or target is missing or malformed', async () => {
    const { handlers, ask } = setup();
    assert.equal(errorCode(await ask('find_node', {})), 203);
    assert.equal(errorCode(await ask('find_node', { target: new Uint8Array(19) })), 203);
    const noId = await handlers.handle({ q: 'ping', t: T, a: dict({}) }, FROM);
    assert.equal(errorCode(noId), 203);
  });

  it('answers 204 to an unknown method', async () => {
    const { ask } = setup();
    assert.equal(errorCode(await ask('sample_infohashes', { target: INFO_HASH })), 204);
  });
});

describe('QueryHandlers get_peers and announce_peer', () => {
  it('answers get_peers with a token and nodes when no peer is known', async () => {
    const { ask } = setup();
    const r = response(await ask('get_peers', { info_hash: INFO_HASH }));
    assert.equal((r['token'] as Uint8Array).length, 20);
    assert.equal(decodeNodes(r['nodes'] as Uint8Array, 4).length, 8);
    assert.equal(r['values'], undefined);
  });

  it('stores an announced peer and returns it in values', async () => {
    const { ask } = setup();
    const token = response(await ask('get_peers', { info_hash: INFO_HASH }))['token'];
    response(await ask('announce_peer', { info_hash: INFO_HASH, port: 6881, token }));
    const r = response(await ask('get_peers', { info_hash: INFO_HASH }));
    assert.deepEqual((r['values'] as Uint8Array[]).map(decodePeer), [{ host: '10.0.0.7', port: 6881 }]);
    assert.equal(r['nodes'], undefined);
  });

  it('uses the UDP source port when implied_port is 1', async () => {
    const { ask } = setup();
    const token = await tokenFor(ask);
    response(await ask('announce_peer', { info_hash: INFO_HASH, port: 1, implied_port: 1, token }));
    const r = response(await ask('get_peers', { info_hash: INFO_HASH }));
    assert.deepEqual((r['values'] as Uint8Array[]).map(decodePeer), [{ host: '10.0.0.7', port: 4000 }]);
  });

  it('answers 203 bad token for a token of another IP or an expired one', async () => {
    const { clock, ask } = setup();
    const foreign = await tokenFor(ask, { ...FROM, host: '10.0.0.8' });
    assert.equal(errorCode(await ask('announce_peer', { info_hash: INFO_HASH, port: 6881, token: foreign })), 203);
    const token = await tokenFor(ask);
    clock.advance(10 * 60_000);
    const outcome = await ask('announce_peer', { info_hash: INFO_HASH, port: 6881, token });
    assert.deepEqual(outcome, { kind: 'error', e: [203, 'bad token'] });
  });

  it('answers 203 to a port out of range', async () => {
    const { ask } = setup();
    const token = await tokenFor(ask);
    assert.equal(errorCode(await ask('announce_peer', { info_hash: INFO_HASH, port: 0, token })), 203);
    assert.equal(errorCode(await ask('announce_peer', { info_hash: INFO_HASH, port: 70000, token })), 203);
    assert.equal(errorCode(await ask('announce_peer', { info_hash: INFO_HASH, token })), 203);
  });

  it('answers 201 to a public querier whose id does not match its IP (BEP 42), and stores a secure one', async () => {
    const { ask, handlers } = setup();
    const from: QuerySource = { host: '203.0.113.9', port: 4000, family: 4 };
    const token = await tokenFor(ask, from);
    const outcome = await ask('announce_peer', { info_hash: INFO_HASH, port: 6881, token }, from);
    assert.equal(errorCode(outcome), 201);
    assert.equal(errorCode(await ask('put', { token, v: text('x') }, from)), 201);
    const secure = await handlers.handle(
      { q: 'announce_peer', t: T, a: dict({ id: secureId('203.0.113.9'), info_hash: INFO_HASH, port: 6881, token }) },
      from,
    );
    assert.equal(secure.kind, 'response');
  });

  it('keeps values within one datagram when many peers are known', async () => {
    const { storage, ask } = setup();
    for (let i = 0; i < 200; i++) {
      await storage.announcePeer(INFO_HASH, Uint8Array.of(10, 2, i >> 8, i & 0xff, 0x1a, 0xe1));
    }
    const outcome = await ask('get_peers', { info_hash: INFO_HASH });
    const values = response(outcome)['values'] as Uint8Array[];
    assert.ok(values.length > 50 && values.length <= 100);
    assert.ok(bencode(dict({ t: T, y: text('r'), r: response(outcome) })).length <= 1500);
  });
});

describe('QueryHandlers BEP 44 get and put', () => {
  it('stores an immutable item under SHA-1 of its bencoded value and returns it', async () => {
    const { ask } = setup();
    const v = text('Hello World!');
    response(await ask('put', { token: await tokenFor(ask), v }));
    const r = response(await ask('get', { target: immutableTarget(v) }));
    assert.deepEqual(r['v'], v);
    assert.equal(r['sig'], undefined);
    assert.ok(r['token'] instanceof Uint8Array);
    assert.ok(r['nodes'] instanceof Uint8Array);
  });

  it('answers get with a token and nodes but no v when nothing is stored', async () => {
    const { ask } = setup();
    const r = response(await ask('get', { target: INFO_HASH }));
    assert.equal(r['v'], undefined);
    assert.ok(r['token'] instanceof Uint8Array);
  });

  it('stores a mutable item and returns v, k, sig and seq', async () => {
    const { ask } = setup();
    const item = createMutableItem(keys, text('Hello World!'), 1, text('foobar'));
    response(await ask('put', { token: await tokenFor(ask), ...item }));
    const r = response(await ask('get', { target: mutableTarget(keys.publicKey, text('foobar')) }));
    assert.deepEqual([r['v'], r['k'], r['sig'], r['seq']], [item.v, item.k, item.sig, 1]);
  });

  it('answers get with nodes6 too when want asks for n6 (BEP 32)', async () => {
    const { ask } = setup();
    const r = response(await ask('get', { target: INFO_HASH, want: [text('n6'), text('n4')] }));
    assert.equal(decodeNodes(r['nodes6'] as Uint8Array, 6).length, 8);
    assert.equal(decodeNodes(r['nodes'] as Uint8Array, 4).length, 8);
  });

  it('omits v when the querier already has the stored seq', async () => {
    const { ask } = setup();
    const item = createMutableItem(keys, text('v1'), 5);
    response(await ask('put', { token: await tokenFor(ask), ...item }));
    const target = mutableTarget(keys.publicKey);
    const r = response(await ask('get', { target, seq: 5 }));
    assert.equal(r['v'], undefined);
    assert.equal(r['seq'], 5);
    assert.deepEqual(response(await ask('get', { target, seq: 4 }))['v'], text('v1'));
  });

  it('answers 205 to a value over 1000 bytes', async () => {
    const { ask } = setup();
    const outcome = await ask('put', { token: await tokenFor(ask), v: new Uint8Array(1000) });
    assert.equal(errorCode(outcome), 205);
  });

  it('answers 206 to an invalid signature instead of dropping the put', async () => {
    const { ask } = setup();
    const item = createMutableItem(keys, text('v1'), 1);
    const sig = Uint8Array.from(item.sig);
    sig[0] = (sig[0] ?? 0) ^ 0xff;
    assert.equal(errorCode(await ask('put', { token: await tokenFor(ask), ...item, sig })), 206);
  });

  it('answers 206 to a put "signed" by the small-order identity key, and stores nothing', async () => {
    const { ask, storage } = setup();
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const forged = Uint8Array.from([...identity, ...new Uint8Array(32)]); // R = identity, S = 0
    const token = await tokenFor(ask);
    assert.equal(errorCode(await ask('put', { token, v: text('x'), k: identity, sig: forged, seq: 1 })), 206);
    assert.equal(await storage.getItem(mutableTarget(identity)), undefined);
  });

  it('answers 207 to a salt over 64 bytes', async () => {
    const { ask } = setup();
    const item = createMutableItem(keys, text('v1'), 1);
    const outcome = await ask('put', { token: await tokenFor(ask), ...item, salt: new Uint8Array(65) });
    assert.equal(errorCode(outcome), 207);
  });

  it('answers 203 to a put with a bad token', async () => {
    const { ask } = setup();
    assert.equal(errorCode(await ask('put', { token: new Uint8Array(20), v: text('x') })), 203);
  });

  it('answers 301 when cas does not match the stored seq', async () => {
    const { ask } = setup();
    const token = await tokenFor(ask);
    response(await ask('put', { token, ...createMutableItem(keys, text('v1'), 1) }));
    const outcome = await ask('put', { token, ...createMutableItem(keys, text('v2'), 2), cas: 7 });
    assert.equal(errorCode(outcome), 301);
    response(await ask('put', { token, ...createMutableItem(keys, text('v2'), 2), cas: 1 }));
  });

  it('answers 302 to a lower seq, or the same seq with another value', async () => {
    const { ask } = setup();
    const token = await tokenFor(ask);
    response(await ask('put', { token, ...createMutableItem(keys, text('v3'), 3) }));
    assert.equal(errorCode(await ask('put', { token, ...createMutableItem(keys, text('v2'), 2) })), 302);
    assert.equal(errorCode(await ask('put', { token, ...createMutableItem(keys, text('other'), 3) })), 302);
    response(await ask('put', { token, ...createMutableItem(keys, text('v3'), 3) }));
  });

  it('answers 202, not 203, for a corrupt item found in storage', async () => {
    const { ask, storage } = setup();
    const key = `item:${Buffer.from(INFO_HASH).toString('hex')}`;
    await storage.registry.set(key, Uint8Array.of(0, 0x69, 0x78)); // an immutable item whose v is not bencode
    assert.equal(errorCode(await ask('get', { target: INFO_HASH })), 202);
    await storage.registry.set(key, Uint8Array.of(1, 2, 3)); // a truncated mutable item
    assert.equal(errorCode(await ask('get', { target: INFO_HASH })), 202);
    await storage.registry.set(key, new Uint8Array(0));
    assert.equal(errorCode(await ask('get', { target: INFO_HASH })), 202);
  });

  it('answers 202 when storage fails, without leaking the cause', async () => {
    const clock = new ManualClock();
    const registry = new MemoryRegistry({}, { clock });
    const storage = new KadStorage({}, { clock, registry });
    await registry.close();
    const { ask } = setup({ storage });
    assert.deepEqual(await ask('get', { target: INFO_HASH }), { kind: 'error', e: [202, 'server error'] });
  });

  it('refuses options out of range, naming them', () => {
    const { storage, tokens } = setup();
    const deps = { id: SELF, storage, tokens, closest: () => [] };
    for (const [options, name] of [
      [{ k: 0 }, 'k'],
      [{ valuesBudgetBytes: -1 }, 'valuesBudgetBytes'],
      [{ enforceSecureIds: 1 as unknown as boolean }, 'enforceSecureIds'],
    ] as const) {
      assert.throws(() => new QueryHandlers(deps, options), {
        code: 'INVALID_OPTION',
        message: new RegExp(`^${name} must be`),
      });
    }
  });
});

describe('QueryHandlers reachability extension (nautilus_reach, nautilus_relay, nautilus_probe)', () => {
  const deps = () => {
    const clock = new ManualClock();
    return {
      id: SELF,
      storage: new KadStorage({}, { clock, registry: new MemoryRegistry({}, { clock }) }),
      tokens: new WriteTokens({}, { clock }),
      closest: () => [],
    };
  };
  const query = (q: string, a: Record<string, unknown>) => ({ q, t: T, a: dict({ id: QUERIER, ...a }) });

  it('answers 204 (method unknown) without the extension, as other implementations do', async () => {
    const handlers = new QueryHandlers(deps());
    const nonce = Uint8Array.of(1, 2, 3);
    assert.deepEqual((await handlers.handle(query('nautilus_reach', { port: 6881, nonce }), FROM)).kind, 'error');
    const relay = await handlers.handle(
      query('nautilus_relay', { ip: Uint8Array.of(198, 51, 100, 1), port: 6881, nonce }),
      FROM,
    );
    assert.ok(relay.kind === 'error');
    assert.equal(relay.e[0], 204);
    const outcome = await handlers.handle(query('nautilus_probe', { nonce }), FROM);
    assert.ok(outcome.kind === 'error');
    assert.equal(outcome.e[0], 204);
  });

  it('hands a valid reach and probe to the extension and answers like a ping; a bad port or nonce is 203', async () => {
    const seen: string[] = [];
    const handlers = new QueryHandlers({
      ...deps(),
      reachability: {
        reach: (from, _requester, port, nonce) => seen.push(`reach ${from.host} ${port} ${nonce.length}`) > 0,
        relay: () => 'refused',
        probe: (from, nonce) => seen.push(`probe ${from.host} ${nonce.length}`),
      },
    });
    const nonce = Uint8Array.of(1, 2, 3);
    const reach = await handlers.handle(query('nautilus_reach', { port: 6881, nonce }), FROM);
    assert.ok(reach.kind === 'response');
    assert.deepEqual(reach.r['id'], SELF);
    await handlers.handle(query('nautilus_probe', { nonce }), FROM);
    assert.deepEqual(seen, ['reach 10.0.0.7 6881 3', 'probe 10.0.0.7 3']);
    for (const a of [
      { port: 0, nonce },
      { port: 70_000, nonce },
      { port: 6881 },
      { port: 6881, nonce: new Uint8Array(21) },
    ]) {
      const bad = await handlers.handle(query('nautilus_reach', a), FROM);
      assert.ok(bad.kind === 'error');
      assert.equal(bad.e[0], 203);
    }
    assert.equal(seen.length, 2);
  });

  it('answers a reach the extension cannot relay (no third node) with 201, and hands it the requester id', async () => {
    const requesters: Uint8Array[] = [];
    const handlers = new QueryHandlers({
      ...deps(),
      reachability: {
        reach: (_from, requester) => requesters.push(requester) < 0,
        relay: () => 'probed',
        probe: () => undefined,
      },
    });
    const outcome = await handlers.handle(query('nautilus_reach', { port: 6881, nonce: Uint8Array.of(1) }), FROM);
    assert.ok(outcome.kind === 'error');
    assert.equal(outcome.e[0], 201);
    assert.deepEqual(requesters, [QUERIER]);
  });

  it('hands a valid relay to the extension (target as text), answers like a ping, 201 when refused; a bad ip, port or nonce is 203', async () => {
    const seen: string[] = [];
    let answer: 'probed' | 'rate-limited' | 'refused' = 'probed';
    const handlers = new QueryHandlers({
      ...deps(),
      reachability: {
        reach: () => true,
        relay: (from, target, nonce) => {
          seen.push(`relay ${from.host} ${target.host}:${target.port} ${nonce.length}`);
          return answer;
        },
        probe: () => undefined,
      },
    });
    const nonce = Uint8Array.of(1, 2, 3);
    const ip = Uint8Array.of(198, 51, 100, 1);
    for (const value of ['probed', 'rate-limited'] as const) {
      answer = value;
      const outcome = await handlers.handle(query('nautilus_relay', { ip, port: 6881, nonce }), FROM);
      assert.ok(outcome.kind === 'response', value);
      assert.deepEqual(outcome.r['id'], SELF);
    }
    answer = 'refused';
    const refused = await handlers.handle(query('nautilus_relay', { ip, port: 6881, nonce }), FROM);
    assert.ok(refused.kind === 'error');
    assert.equal(refused.e[0], 201);
    assert.deepEqual(seen, Array(3).fill('relay 10.0.0.7 198.51.100.1:6881 3'));
    for (const a of [
      { port: 6881, nonce },
      { ip: new Uint8Array(16), port: 6881, nonce },
      { ip: new Uint8Array(5), port: 6881, nonce },
      { ip: '198.51.100.1', port: 6881, nonce },
      { ip, nonce },
      { ip, port: 0, nonce },
      { ip, port: 65_536, nonce },
      { ip, port: 6881 },
      { ip, port: 6881, nonce: new Uint8Array(21) },
    ]) {
      const bad = await handlers.handle(query('nautilus_relay', a), FROM);
      assert.ok(bad.kind === 'error');
      assert.equal(bad.e[0], 203);
    }
    assert.equal(seen.length, 3);
  });
});

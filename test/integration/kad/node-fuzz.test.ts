/**
 * Throws over a million random and mutated datagrams at one node, straight into its in-memory
 * transport (no scheduling per datagram), then checks that it is still healthy: no crash, no
 * unhandled rejection, heap growth bounded, well-formed queries answered.
 *
 * Seeded: a failure reproduces with the same FUZZ_SEED. FUZZ_DATAGRAMS overrides the count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BencodeDict, type BencodeValue, bdecode, bencode } from '../../../src/kad/wire/bencode.js';
import { randomId } from '../../../src/kad/id.js';
import { createMutableItem, keyPairFromSeed, mutableTarget } from '../../../src/kad/items.js';
import { encodeMessage } from '../../../src/kad/wire/krpc.js';
import { createNode, type KadNode } from '../../../src/kad/node/node.js';
import type { RemoteInfo } from '../../../src/kad/transport/transport.js';
import { ManualClock, MemoryNetwork, type MemoryTransport, seededRandom } from '../../../src/testing/index.js';
import { drive } from '../../helpers/virtual-time.js';
import { heapInUse } from '../../helpers/heap.js';

const DATAGRAMS = Number(process.env['FUZZ_DATAGRAMS'] ?? 1_000_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed);
const BATCH = 2000;
// the heap, measured after full collections, may grow by the node's bounded state (storage capped
// at 4 MiB here, tables, limiter maps); a leak of 17 bytes per datagram would exceed this
const MAX_HEAP_GROWTH = 16 * 1024 * 1024;
const TOKEN_HOST = '10.99.0.1';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function dict(entries: Record<string, BencodeValue | undefined>): BencodeDict {
  const out = Object.create(null) as BencodeDict;
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v;
  return out;
}

/** Well-formed queries of every method; `token` is valid for {@link TOKEN_HOST}. */
function templates(token: Uint8Array): Uint8Array[] {
  const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
  const item = createMutableItem(keys, text('fuzz'), 7, text('salt'));
  const id = randomId();
  const q = (name: string, a: Record<string, BencodeValue | undefined>): Uint8Array =>
    encodeMessage({ y: 'q', t: Uint8Array.of(1, 2, 3, 4), q: name, a: dict({ id, ...a }) });
  return [
    q('ping', {}),
    q('find_node', { target: randomId() }),
    q('find_node', { target: randomId(), want: [text('n4'), text('n6')] }),
    q('get_peers', { info_hash: randomId() }),
    q('announce_peer', { info_hash: randomId(), port: 6881, token }),
    q('announce_peer', { info_hash: randomId(), port: 0, implied_port: 1, token }),
    q('get', { target: mutableTarget(keys.publicKey, text('salt')), seq: 3 }),
    q('put', { token, v: text('immutable fuzz value') }),
    q('put', { token, v: item.v, k: item.k, sig: item.sig, seq: item.seq, salt: item.salt, cas: 6 }),
    q('sample_infohashes', { target: randomId() }),
  ];
}

const KEYS = [
  't',
  'y',
  'q',
  'a',
  'r',
  'e',
  'v',
  'ro',
  'id',
  'target',
  'info_hash',
  'token',
  'port',
  'implied_port',
  'want',
  'k',
  'sig',
  'seq',
  'salt',
  'cas',
  'nodes',
  'values',
];

class Fuzzer {
  readonly #random: () => number;
  readonly #templates: Uint8Array[];
  readonly #decoded: BencodeDict[];

  constructor(seed: number, base: Uint8Array[]) {
    this.#random = seededRandom(seed);
    this.#templates = base;
    this.#decoded = base.map((t) => bdecode(t) as BencodeDict);
  }

  int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** A random bencode value up to `depth` levels deep, of any type. */
  value(depth: number): BencodeValue {
    const kind = depth <= 0 ? this.int(2) : this.int(4);
    if (kind === 0) return this.int(3) === 0 ? -this.int(1e9) : this.int(2 ** 31);
    if (kind === 1) return this.bytes(this.pick([0, 1, 2, 4, 6, 20, 26, 32, 64, 65, 200]));
    if (kind === 2) return Array.from({ length: this.int(4) }, () => this.value(depth - 1));
    return dict(
      Object.fromEntries(Array.from({ length: this.int(5) }, () => [this.pick(KEYS), this.value(depth - 1)])),
    );
  }

  next(): Uint8Array {
    const template = this.pick(this.#templates);
    switch (this.int(9)) {
      case 0:
        return this.bytes(this.int(300)); // noise
      case 1: {
        const out = Uint8Array.from(template); // bit flips
        for (let n = 1 + this.int(8); n > 0; n--) {
          const at = this.int(out.length);
          out[at] = (out[at] ?? 0) ^ (1 << this.int(8));
        }
        return out;
      }
      case 2:
        return template.subarray(0, this.int(template.length)); // truncated
      case 3: {
        const out = new Uint8Array(template.length + 1 + this.int(1600)); // trailing garbage, often oversized
        out.set(template);
        out.set(this.bytes(out.length - template.length), template.length);
        return out;
      }
      case 4: {
        // a field of a valid query replaced by a value of a random type
        const message = dict({ ...this.pick(this.#decoded) });
        const a = dict({ ...(message['a'] as BencodeDict) });
        a[this.pick(KEYS)] = this.value(2);
        message[this.int(4) === 0 ? this.pick(KEYS) : 'a'] = this.int(4) === 0 ? this.value(2) : a;
        return bencode(message);
      }
      case 5: {
        const depth = 1 + this.int(3000); // deep nesting, balanced or not
        const open = text(this.pick(['l', 'd1:a']).repeat(depth));
        return this.int(2) === 0 ? open : concat(open, text('e'.repeat(depth)));
      }
      case 6:
        return bencode(this.value(4)); // well-formed bencode, random shape
      case 7: {
        // a valid envelope with a random method and random arguments
        return bencode(
          dict({
            t: this.bytes(this.int(20)),
            y: text('q'),
            q: text(this.pick([...KEYS, 'ping', 'get', 'put'])),
            a: this.value(2),
          }),
        );
      }
      default:
        return template; // well-formed: exercises handlers and storage under load
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

describe(`a node under ${DATAGRAMS.toLocaleString('en')} random and mutated datagrams`, () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 0 }, { clock });
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => void rejections.push(reason);
  let node: KadNode;
  let transport: MemoryTransport;
  let client: KadNode;
  let heap = { before: 0, after: 0 };

  // the fuzzing run is the setup both tests need: each checks one side of the node after it
  before(async () => {
    process.on('unhandledRejection', onRejection);
    transport = network.createTransport();
    node = await createNode({
      transport,
      clock,
      storage: { maxEntries: 5000, maxBytes: 4 * 1024 * 1024 },
      rpc: { inboundLimit: { ratePerSecond: Number.POSITIVE_INFINITY } },
    });
    client = await createNode({ transport: network.createTransport({ host: TOKEN_HOST, port: 7000 }), clock });
    heap = await fuzz();
  });

  after(async () => {
    process.off('unhandledRejection', onRejection);
    await node.close();
    await client.close();
    await network.close();
  });

  /** Feeds DATAGRAMS fuzzed datagrams (after a warm-up) and measures the heap around them. */
  async function fuzz(): Promise<typeof heap> {
    const { token } = await drive(clock, client.getItem(node.address(), randomId()));
    assert.ok(token !== undefined);
    const fuzzer = new Fuzzer(SEED, templates(token));
    const sources: RemoteInfo[] = Array.from({ length: 512 }, (_, i) => ({
      host: i === 0 ? TOKEN_HOST : `10.99.${i >> 8}.${(i & 0xff) + 2}`,
      port: 1024 + i,
      family: 4,
    }));
    const feed = async (count: number): Promise<void> => {
      for (let sent = 0; sent < count; sent += BATCH) {
        for (let i = 0; i < BATCH && sent + i < count; i++) transport.receive(fuzzer.next(), fuzzer.pick(sources));
        // let handler continuations run, and deliver (or drop) the replies
        await new Promise<void>((resolve) => setImmediate(resolve));
        clock.advance(1);
      }
    };
    await feed(20_000); // warm-up: JIT, tables and limiter maps populated
    const heapBefore = heapInUse();
    const started = process.hrtime.bigint();
    await feed(DATAGRAMS);
    await clock.advanceAsync(60_000); // every timeout and probe settles
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const heapAfter = heapInUse();
    console.log(
      `fuzz: ${DATAGRAMS} datagrams in ${seconds.toFixed(1)} s; heap ${(heapBefore / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MiB` +
        ` (after full collections); rpc ${JSON.stringify(node.stats().rpc.dropped)}, ` +
        `responses ${node.stats().rpc.responsesSent}, errors ${node.stats().rpc.errorsSent}, internal ${node.stats().rpc.internalErrors}`,
    );
    return { before: heapBefore, after: heapAfter };
  }

  it('survives them with bounded heap and no unhandled rejection', () => {
    assert.deepEqual(rejections, []);
    assert.equal(node.stats().rpc.internalErrors, 0);
    assert.ok(node.stats().rpc.responsesSent > DATAGRAMS / 20, 'well-formed queries were answered during the run');
    assert.ok(
      heap.after - heap.before < MAX_HEAP_GROWTH,
      `heap grew by ${((heap.after - heap.before) / 2 ** 20).toFixed(1)} MiB`,
    );
  });

  it('still answers well-formed queries afterwards', async () => {
    const contact = await drive(clock, client.ping(node.address()));
    assert.deepEqual(contact.id, node.id);
    const { nodes } = await drive(clock, client.findNode(node.address(), randomId()));
    assert.ok(nodes.length >= 1);
    const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
    const got = await drive(
      clock,
      client.getItem(node.address(), mutableTarget(keys.publicKey, text('salt')), { salt: text('salt') }),
    );
    assert.ok(got.token !== undefined);
  });
});

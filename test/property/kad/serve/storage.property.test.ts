import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { KadStorage } from '../../../../src/kad/serve/storage.js';
import { MemoryRegistry } from '../../../../src/registry/index.js';
import { ManualClock } from '../../../../src/testing/index.js';

const MINUTE = 60_000;
const PEER_TTL = 30 * MINUTE;
const ITEM_TTL = 120 * MINUTE;
const MAX_PEERS = 5;

const peer = (i: number): Uint8Array => Uint8Array.of(10, 0, 0, i, 0x1a, 0xe1);
const infoHash = (i: number): Uint8Array => new Uint8Array(20).fill(i + 1);

type PeerOp =
  | { kind: 'announce'; hash: number; peer: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'get'; hash: number; max: number };

const peerOp: fc.Arbitrary<PeerOp> = fc.oneof(
  fc.record({ kind: fc.constant('announce' as const), hash: fc.nat(2), peer: fc.nat(12) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(40 * MINUTE) }),
  fc.record({ kind: fc.constant('get' as const), hash: fc.nat(2), max: fc.integer({ min: 1, max: 10 }) }),
);

describe('KadStorage properties', () => {
  it('returns only peers announced for that info-hash within 30 minutes, never more than the caps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(peerOp, { maxLength: 60 }), async (ops) => {
        const clock = new ManualClock();
        const registry = new MemoryRegistry({}, { clock });
        const storage = new KadStorage({ maxPeersPerInfoHash: MAX_PEERS }, { clock, registry });
        // model: last announcement time per (hash, peer)
        const announced = new Map<string, number>();
        for (const op of ops) {
          if (op.kind === 'announce') {
            await storage.announcePeer(infoHash(op.hash), peer(op.peer));
            announced.set(`${op.hash}/${op.peer}`, clock.now());
          } else if (op.kind === 'advance') {
            clock.advance(op.ms);
          } else {
            const got = await storage.getPeers(infoHash(op.hash), { family: 4, max: op.max });
            assert.ok(got.length <= Math.min(op.max, MAX_PEERS));
            const live = [...announced].filter(
              ([key, at]) => key.startsWith(`${op.hash}/`) && clock.now() - at < PEER_TTL,
            );
            for (const p of got) {
              const at = announced.get(`${op.hash}/${p[3] ?? -1}`);
              assert.ok(at !== undefined && clock.now() - at < PEER_TTL, 'an expired or foreign peer was returned');
            }
            if (live.length > 0) assert.ok(got.length >= 1, 'a live peer was lost');
            assert.equal(new Set(got.map((p) => p[3])).size, got.length, 'duplicates');
          }
        }
        await registry.close();
      }),
      { numRuns: 150 },
    );
  });

  it('applies BEP 44 seq and cas rules exactly like a model, and never lets the stored seq go back', async () => {
    type ItemOp =
      { kind: 'put'; seq: number; value: number; cas: number | undefined } | { kind: 'advance'; ms: number };
    const itemOp: fc.Arbitrary<ItemOp> = fc.oneof(
      fc.record({
        kind: fc.constant('put' as const),
        seq: fc.nat(6),
        value: fc.nat(2),
        cas: fc.option(fc.nat(6), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(90 * MINUTE) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(itemOp, { maxLength: 40 }), async (ops) => {
        const clock = new ManualClock();
        const registry = new MemoryRegistry({}, { clock });
        const storage = new KadStorage({}, { clock, registry });
        const target = new Uint8Array(20).fill(7);
        let model: { seq: number; value: number; at: number } | undefined;
        for (const op of ops) {
          if (op.kind === 'advance') {
            clock.advance(op.ms);
            continue;
          }
          if (model !== undefined && clock.now() - model.at >= ITEM_TTL) model = undefined;
          const item = {
            v: Uint8Array.of(0x69, 0x30 + op.value, 0x65),
            k: new Uint8Array(32),
            sig: new Uint8Array(64),
            seq: op.seq,
            salt: new Uint8Array(0),
          };
          const result = await storage.putMutable(target, item, { cas: op.cas });
          let expected: string;
          if (model === undefined) expected = 'stored';
          else if (op.cas !== undefined && op.cas !== model.seq) expected = 'cas-mismatch';
          else if (op.seq < model.seq || (op.seq === model.seq && op.value !== model.value)) expected = 'seq-too-low';
          else expected = op.seq === model.seq ? 'refreshed' : 'stored';
          assert.equal(result, expected);
          if (expected === 'stored' || expected === 'refreshed')
            model = { seq: op.seq, value: op.value, at: clock.now() };
          const stored = await storage.getItem(target);
          assert.equal(stored?.mutable === true ? stored.seq : undefined, model?.seq);
        }
        await registry.close();
      }),
      { numRuns: 200 },
    );
  });
});

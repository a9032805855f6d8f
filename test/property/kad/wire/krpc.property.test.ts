import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { BencodeDict } from '../../../../src/kad/wire/bencode.js';
import { encodeAddress } from '../../../../src/kad/wire/compact.js';
import { isKadError } from '../../../../src/kad/errors.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import { readResponse, writeResponse } from '../../../../src/kad/wire/krpc-args.js';

const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
const id = bytes(20, 20);
const dictOf = (entries: Record<string, unknown>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);
const ipv4 = fc.ipV4();
const port = fc.integer({ min: 1, max: 65535 });

const message: fc.Arbitrary<KrpcMessage> = fc
  .oneof(
    fc.record(
      {
        y: fc.constant('q' as const),
        t: bytes(1, 16),
        q: fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put', 'x'),
        a: fc.record({ id, target: id }).map(dictOf),
        v: bytes(4, 4),
        ro: fc.constant(true),
      },
      { requiredKeys: ['y', 't', 'q', 'a'] },
    ),
    fc.record(
      {
        y: fc.constant('r' as const),
        t: bytes(1, 16),
        r: fc.record({ id, token: bytes(1, 20) }).map(dictOf),
        ip: fc.tuple(ipv4, port).map(([host, p]) => encodeAddress({ host, port: p })),
      },
      { requiredKeys: ['y', 't', 'r'] },
    ),
    fc.record({
      y: fc.constant('e' as const),
      t: bytes(1, 16),
      e: fc.tuple(fc.integer({ min: 201, max: 302 }), fc.string({ maxLength: 40 })),
    }),
  )
  .map((m) => ({ ...m }));

describe('KRPC properties', () => {
  it('round-trips any well-formed message', () => {
    fc.assert(
      fc.property(message, (m) => assert.deepEqual(decodeMessage(encodeMessage(m)), m)),
      { numRuns: 500 },
    );
  });

  it('either decodes a mutated message or throws INVALID_MESSAGE, never anything else', () => {
    const mutated = fc.tuple(message, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, at, b]) => {
      const out = encodeMessage(m);
      out[at % out.length] = b;
      return out;
    });
    fc.assert(
      fc.property(mutated, (datagram) => {
        try {
          decodeMessage(datagram);
        } catch (error) {
          assert.ok(isKadError(error, 'INVALID_MESSAGE'), String(error));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips response values', () => {
    const contact = fc.record({ id, host: ipv4, port }).map((c) => ({ ...c }));
    const values = fc
      .record(
        {
          id,
          nodes: fc.array(contact, { maxLength: 8 }),
          token: bytes(1, 20),
          values: fc.array(
            fc.record({ host: ipv4, port }).map((p) => ({ ...p })),
            { maxLength: 8 },
          ),
          seq: fc.nat(),
        },
        { requiredKeys: ['id'] },
      )
      .map((v) => ({ ...v }));
    fc.assert(fc.property(values, (v) => assert.deepEqual(readResponse(writeResponse(v)), v)));
  });
});

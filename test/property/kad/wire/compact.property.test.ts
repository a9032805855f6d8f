import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeNodes,
  decodePeer,
  encodeNodes,
  encodePeer,
  formatIp,
  normalizeIp,
  parseIp,
} from '../../../../src/kad/wire/compact.js';

const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map(formatIp);
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIp);
const port = fc.integer({ min: 0, max: 65535 });
const nodeId = fc.uint8Array({ minLength: 20, maxLength: 20 });

describe('compact encoding properties', () => {
  it('round-trips any IP text through its bytes, and node:net agrees it is valid', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), (host) => {
        assert.equal(formatIp(parseIp(host) ?? new Uint8Array()), host);
        assert.equal(normalizeIp(host), host);
      }),
    );
  });

  it('accepts the text Node.js produces for any IPv6 address', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = parseIp(text);
        assert.ok(bytes !== undefined, text);
        assert.deepEqual(parseIp(formatIp(bytes)), bytes);
      }),
    );
  });

  it('round-trips any peer address', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), port, (host, p) => {
        assert.deepEqual(decodePeer(encodePeer({ host, port: p })), { host, port: p });
      }),
    );
  });

  it('round-trips any list of contacts of one family', () => {
    for (const [family, host] of [
      [4, ipv4],
      [6, ipv6],
    ] as const) {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({ id: nodeId, host, port }).map((c) => ({ ...c })),
            { maxLength: 10 },
          ),
          (contacts) => {
            assert.deepEqual(decodeNodes(encodeNodes(contacts, family), family), contacts);
          },
        ),
      );
    }
  });
});

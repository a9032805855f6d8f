import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { idFromHex, idToHex } from '../../../../src/kad/id.js';
import {
  decodeState,
  encodeState,
  MAX_STATE_BYTES,
  type SavedState,
  STATE_FORMAT,
  STATE_VERSION,
} from '../../../../src/kad/node/state-format.js';

const STATE: SavedState = {
  id: idFromHex('0123456789abcdef0123456789abcdef01234567'),
  savedAt: 1_700_000_123_456,
  contacts: {
    4: [
      { id: idFromHex('11'.repeat(20)), host: '10.0.0.1', port: 6881, lastSeen: 1_700_000_000_000 },
      { id: idFromHex('22'.repeat(20)), host: '10.0.0.2', port: 1, lastSeen: 1_700_000_100_000 },
    ],
    6: [{ id: idFromHex('33'.repeat(20)), host: 'fd00::3', port: 65535, lastSeen: 1_700_000_050_000 }],
  },
  publications: { items: [{ target: 'ab', nextDueAt: 1_700_003_600_000 }] },
};

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A state file around `body` with a correct checksum: damage the body's shape, not its hash. */
function withBody(body: unknown): Uint8Array {
  const inner = JSON.stringify(body);
  const sha256 = createHash('sha256').update(inner).digest('hex');
  return bytes(JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, sha256, body }));
}

function reasonOf(data: Uint8Array): [string, string] {
  const decoded = decodeState(data);
  assert.equal(decoded.ok, false);
  return decoded.ok ? ['', ''] : [decoded.reason, decoded.detail];
}

describe('the state file format', () => {
  it('reads back exactly what it wrote, ids included', () => {
    const decoded = decodeState(encodeState(STATE));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.state, STATE);
  });

  it('is one line of JSON a person can read: format, version, checksum, body with hex ids', () => {
    const file = JSON.parse(text(encodeState(STATE))) as Record<string, unknown>;
    assert.equal(file['format'], 'nautilus-kad-state');
    assert.equal(file['version'], 1);
    assert.match(file['sha256'] as string, /^[0-9a-f]{64}$/);
    const body = file['body'] as { id: string; contacts: Record<string, { id: string; host: string }[]> };
    assert.equal(body.id, idToHex(STATE.id));
    assert.deepEqual(
      body.contacts['6']?.map((c) => [c.id, c.host]),
      [['33'.repeat(20), 'fd00::3']],
    );
  });

  it('still reads a file re-indented by hand: the checksum covers content, not spacing', () => {
    const pretty = JSON.stringify(JSON.parse(text(encodeState(STATE))), null, 2);
    assert.ok(decodeState(bytes(pretty)).ok);
  });

  it('calls a truncated file corrupt', () => {
    const full = encodeState(STATE);
    for (const length of [0, 1, full.length >> 1, full.length - 3]) {
      assert.equal(reasonOf(full.subarray(0, length))[0], 'corrupt', `at ${length} bytes`);
    }
  });

  it('calls bytes that are not UTF-8 JSON corrupt', () => {
    assert.equal(reasonOf(Uint8Array.of(0xff, 0xfe, 0x7b, 0x7d))[0], 'corrupt');
    assert.equal(reasonOf(bytes('[1, 2, 3]'))[0], 'corrupt');
  });

  it('calls a file of another format corrupt and one of another version "version"', () => {
    assert.deepEqual(reasonOf(bytes('{"format":"something-else","version":1}')), [
      'corrupt',
      `no "format": "${STATE_FORMAT}"`,
    ]);
    const newer = text(encodeState(STATE)).replace('"version":1', '"version":2');
    assert.deepEqual(reasonOf(bytes(newer)), ['version', 'version 2, this node reads 1']);
  });

  it('calls a file whose body changed after it was written corrupt (checksum)', () => {
    const altered = text(encodeState(STATE)).replace('"port":6881', '"port":6882');
    assert.deepEqual(reasonOf(bytes(altered)), ['corrupt', 'checksum mismatch']);
  });

  it('names the field of a body out of shape', () => {
    const body = (JSON.parse(text(encodeState(STATE))) as { body: Record<string, unknown> }).body;
    const contact = { id: '11'.repeat(20), host: '10.0.0.1', port: 6881, lastSeen: 1 };
    for (const [change, detail] of [
      [{ id: 'xyz' }, 'id is not 40 hex digits'],
      [{ savedAt: 'now' }, 'savedAt is not a number'],
      [{ contacts: [] }, 'contacts is not an object'],
      [{ contacts: { 5: [] } }, "contacts.5 is not a family's list"],
      [{ contacts: { 4: [{ ...contact, host: 'fd00::1' }] } }, 'contacts.4[0].host is not IPv4'],
      [{ contacts: { 6: [contact] } }, 'contacts.6[0].host is not IPv6'],
      [{ contacts: { 4: [{ ...contact, port: 0 }] } }, 'contacts.4[0].port is not in 1..65535'],
      [{ contacts: { 4: [contact, { ...contact, lastSeen: null }] } }, 'contacts.4[1].lastSeen is not a number'],
      [{ contacts: { 4: [{ ...contact, id: 7 }] } }, 'contacts.4[0].id is not 40 hex digits'],
      [{ contacts: { 4: ['x'] } }, 'contacts.4[0] is not an object'],
    ] as const) {
      assert.deepEqual(reasonOf(withBody({ ...body, ...change })), ['corrupt', detail]);
    }
  });

  it(`refuses a file larger than ${MAX_STATE_BYTES} bytes before parsing it`, () => {
    const [reason, detail] = reasonOf(new Uint8Array(MAX_STATE_BYTES + 1));
    assert.equal(reason, 'corrupt');
    assert.match(detail, /over/);
  });
});

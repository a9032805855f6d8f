import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idFromHex, idToHex, randomIdInBucket } from '../../../../src/kad/id.js';
import { RoutingTable } from '../../../../src/kad/routing/routing-table.js';
import type { Contact } from '../../../../src/kad/wire/compact.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';

const SELF = idFromHex('0'.repeat(40));
const MINUTE = 60_000;

let serial = 0;
function contactIn(index: number, host?: string): Contact {
  serial++;
  return { id: randomIdInBucket(SELF, index), host: host ?? `30.${(serial >> 8) & 255}.${serial & 255}.1`, port: 6881 };
}

function setup(): { table: RoutingTable; clock: ManualClock } {
  const clock = new ManualClock();
  return { table: new RoutingTable(SELF, { k: 4 }, { clock }), clock };
}

describe('RoutingTable.restore', () => {
  it('puts a saved contact back with the lastSeen it had: good if recent, questionable if old', () => {
    const { table, clock } = setup();
    const recent = contactIn(2);
    const old = contactIn(3);
    assert.equal(table.restore(recent, clock.now() - MINUTE).status, 'added');
    assert.equal(table.restore(old, clock.now() - 20 * MINUTE).status, 'added');
    assert.equal(table.get(recent.id)?.lastSeen, clock.now() - MINUTE);
    assert.equal(table.state(table.get(recent.id) ?? assert.fail()), 'good');
    assert.equal(table.state(table.get(old.id) ?? assert.fail()), 'questionable');
    assert.equal(table.size, 2);
  });

  it('clamps a lastSeen in the future to now', () => {
    const { table, clock } = setup();
    const contact = contactIn(1);
    table.restore(contact, clock.now() + 10 * MINUTE);
    assert.equal(table.get(contact.id)?.lastSeen, clock.now());
  });

  it('keeps a bucket least recently seen first whatever the order of restoring', () => {
    const { table, clock } = setup();
    const contacts = [contactIn(5), contactIn(5), contactIn(5)];
    const seen = [3, 9, 6].map((m) => clock.now() - m * MINUTE);
    contacts.forEach((c, i) => table.restore(c, seen[i] as number));
    assert.deepEqual(
      table.bucket(5).map((c) => idToHex(c.id)),
      [contacts[1], contacts[2], contacts[0]].map((c) => idToHex((c as Contact).id)),
    );
  });

  it('makes a bucket due for refresh when its freshest restored contact is older than the idle time', () => {
    const { table, clock } = setup();
    table.restore(contactIn(0), clock.now() - 40 * MINUTE);
    table.restore(contactIn(0), clock.now() - 20 * MINUTE);
    table.restore(contactIn(1), clock.now() - 2 * MINUTE);
    assert.deepEqual(table.staleBuckets(15 * MINUTE), [0]);
    clock.advance(13 * MINUTE);
    assert.deepEqual(table.staleBuckets(15 * MINUTE), [0, 1]);
  });

  it('refuses what add refuses: itself, a malformed contact, a conflict, a full bucket, a crowded subnet', () => {
    const { table, clock } = setup();
    const now = clock.now();
    assert.equal(table.restore({ id: SELF, host: '30.0.0.1', port: 1 }, now).status, 'self');
    assert.equal(table.restore({ id: randomIdInBucket(SELF, 1), host: 'fd00::1', port: 1 }, now).status, 'invalid');
    assert.equal(table.restore(contactIn(1), Number.NaN).status, 'invalid');
    const first = contactIn(4);
    table.restore(first, now);
    assert.equal(table.restore({ ...contactIn(4), host: first.host }, now).status, 'conflict');
    assert.equal(table.restore({ ...first, port: 6882 }, now).status, 'conflict');
    for (let i = 0; i < 3; i++) table.restore(contactIn(4), now);
    const result = table.restore(contactIn(4), now);
    assert.equal(result.status, 'bucket-full');
    assert.deepEqual(table.replacements(4), [], 'not queued as a replacement');
    table.restore(contactIn(6, '40.1.1.1'), now);
    table.restore({ ...contactIn(6), host: '40.1.1.2' }, now);
    assert.equal(table.restore({ ...contactIn(6), host: '40.1.1.3' }, now).status, 'rejected-diversity');
  });
});

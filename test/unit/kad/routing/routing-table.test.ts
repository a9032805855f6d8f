import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Contact } from '../../../../src/kad/wire/compact.js';
import { isKadError } from '../../../../src/kad/errors.js';
import { bucketIndex, compareDistance, idFromHex, idToHex, randomIdInBucket } from '../../../../src/kad/id.js';
import { RoutingTable } from '../../../../src/kad/routing/routing-table.js';
import type { RoutingTableOptions } from '../../../../src/kad/routing/routing-types.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';

const SELF = idFromHex('0'.repeat(40));
const MINUTE = 60_000;

function setup(options: RoutingTableOptions = {}): { table: RoutingTable; clock: ManualClock } {
  const clock = new ManualClock();
  return { table: new RoutingTable(SELF, options, { clock }), clock };
}

let serial = 0;
/** A contact in bucket `index` of SELF, each in its own public /24 unless `host` is given. */
function contactIn(index: number, host?: string): Contact {
  serial++;
  return { id: randomIdInBucket(SELF, index), host: host ?? `20.${(serial >> 8) & 255}.${serial & 255}.1`, port: 6881 };
}

describe('RoutingTable', () => {
  it('adds a contact to the bucket of its common prefix length', () => {
    const { table } = setup();
    const contact = contactIn(3);
    const result = table.add(contact);
    assert.equal(result.status, 'added');
    assert.equal(table.size, 1);
    assert.equal(table.bucket(3).length, 1);
    assert.ok(table.has(contact.id));
    assert.equal(table.state(table.get(contact.id) ?? assert.fail()), 'good');
  });

  it('never holds its own id', () => {
    const { table } = setup();
    assert.deepEqual(table.add({ id: SELF, host: '20.0.0.1', port: 1 }), { status: 'self' });
    assert.equal(table.size, 0);
  });

  it('rejects contacts of the other family, bad ports and bad ids as invalid', () => {
    const { table } = setup();
    const id = randomIdInBucket(SELF, 0);
    assert.equal(table.add({ id, host: '::1', port: 1 }).status, 'invalid');
    assert.equal(table.add({ id, host: '20.0.0.1', port: 0 }).status, 'invalid');
    assert.equal(table.add({ id: new Uint8Array(19), host: '20.0.0.1', port: 1 }).status, 'invalid');
    const v6 = new RoutingTable(SELF, { family: 6 });
    assert.equal(v6.add({ id, host: '::ffff:20.0.0.1', port: 1 }).status, 'invalid');
    assert.equal(v6.add({ id, host: '2001:DB8::1', port: 1 }).status, 'added');
    assert.equal(v6.get(id)?.host, '2001:db8::1');
  });

  it('updates a known contact and moves it to the most recently seen end', () => {
    const { table, clock } = setup();
    const a = contactIn(0);
    const b = contactIn(0);
    table.add(a);
    table.add(b);
    clock.advance(1000);
    assert.equal(table.add(a).status, 'updated');
    assert.deepEqual(
      table.bucket(0).map((c) => c.id),
      [b.id, a.id],
    );
    assert.equal(table.get(a.id)?.lastSeen, clock.now());
  });

  it('keeps the entry when its id shows up at another address, or its address under another id', () => {
    const { table } = setup();
    const a = contactIn(0);
    table.add(a);
    assert.equal(table.add({ ...a, port: 9999 }).status, 'conflict');
    assert.equal(table.add({ ...contactIn(0), host: a.host, port: a.port }).status, 'conflict');
    assert.equal(table.size, 1);
  });

  it('returns bucket-full with the least recently seen contact when the bucket holds k contacts', () => {
    const { table, clock } = setup({ k: 2 });
    const first = contactIn(1);
    table.add(first);
    clock.advance(10);
    table.add(contactIn(1));
    const events: unknown[] = [];
    table.on('bucket:full', (e) => events.push(e.bucket));
    const candidate = contactIn(1);
    const result = table.add(candidate);
    assert.equal(result.status, 'bucket-full');
    assert.ok(result.status === 'bucket-full');
    assert.deepEqual(result.leastRecentlySeen.id, first.id);
    assert.equal(result.bucket, 1);
    assert.deepEqual(events, [1]);
    assert.deepEqual(
      table.replacements(1).map((c) => c.id),
      [candidate.id],
    );
    assert.equal(table.size, 2);
  });

  it('remembers at most replacementCacheSize candidates per bucket, the most recent ones', () => {
    const { table } = setup({ k: 1, replacementCacheSize: 2 });
    table.add(contactIn(5));
    const candidates = [contactIn(5), contactIn(5), contactIn(5)];
    for (const c of candidates) assert.equal(table.add(c).status, 'bucket-full');
    assert.deepEqual(
      table.replacements(5).map((c) => c.id),
      [candidates[1]?.id, candidates[2]?.id],
    );
    const none = setup({ k: 1, replacementCacheSize: 0 }).table;
    none.add(contactIn(5));
    none.add(contactIn(5));
    assert.equal(none.replacements(5).length, 0);
  });

  it('lets the caller evict after a failed ping with replace()', () => {
    const { table } = setup({ k: 1 });
    const old = contactIn(2);
    table.add(old);
    const candidate = contactIn(2);
    assert.equal(table.add(candidate).status, 'bucket-full');
    assert.equal(table.replace(old.id, candidate).status, 'added');
    assert.ok(!table.has(old.id));
    assert.ok(table.has(candidate.id));
    assert.equal(table.replacements(2).length, 0);
  });

  it('turns a contact bad after maxFailures failed queries and fills its slot from the replacement cache', () => {
    const { table } = setup({ k: 1, maxFailures: 2 });
    const old = contactIn(0);
    table.add(old);
    const waiting = contactIn(0);
    table.add(waiting);
    const removed: string[] = [];
    table.on('node:removed', (e) => removed.push(`${idToHex(e.contact.id)}:${e.reason}`));
    assert.equal(table.markFailed(old.id), 'good');
    assert.ok(table.has(old.id));
    assert.equal(table.markFailed(old.id), 'bad');
    assert.ok(!table.has(old.id));
    assert.ok(table.has(waiting.id));
    assert.deepEqual(removed, [`${idToHex(old.id)}:bad`]);
  });

  it('keeps the time a replacement was last heard from, least recently seen first as ever', () => {
    const { table, clock } = setup({ k: 2, maxFailures: 1 });
    const [a, b, waiting] = [contactIn(0), contactIn(0), contactIn(0)];
    table.add(a);
    table.add(b);
    const heardAt = clock.now();
    table.add(waiting);
    clock.advance(10 * MINUTE);
    table.markSeen(b.id);
    assert.equal(table.markFailed(a.id), 'bad');
    assert.equal((table.get(waiting.id) ?? assert.fail('the replacement took the slot')).lastSeen, heardAt);
    assert.deepEqual(
      table.bucket(0).map((c) => idToHex(c.id)),
      [idToHex(waiting.id), idToHex(b.id)],
    );
  });

  it('drops cached candidates not heard from for 15 minutes instead of taking them', () => {
    const { table, clock } = setup({ k: 1, maxFailures: 1 });
    const [old, stale, fresh] = [contactIn(0), contactIn(0), contactIn(0)];
    table.add(old);
    table.add(stale);
    clock.advance(16 * MINUTE);
    table.markSeen(old.id);
    assert.equal(table.markFailed(old.id), 'bad');
    assert.ok(table.has(old.id), 'nobody fresh to take its place');
    assert.deepEqual(table.replacements(0), []);
    table.add(fresh);
    assert.ok(table.has(fresh.id) && !table.has(old.id));
  });

  it('keeps a bad contact until someone can take its place, but leaves it out of closest()', () => {
    const { table } = setup({ k: 1 });
    const old = contactIn(0);
    table.add(old);
    table.markFailed(old.id);
    table.markFailed(old.id);
    assert.ok(table.has(old.id));
    assert.deepEqual(table.closest(old.id, 8), []);
    assert.equal(table.closest(old.id, 8, { includeBad: true }).length, 1);
    const newcomer = contactIn(0);
    const result = table.add(newcomer);
    assert.ok(result.status === 'added');
    assert.deepEqual(result.evicted?.id, old.id);
  });

  it('makes a contact good again when it is seen', () => {
    const { table } = setup();
    const a = contactIn(0);
    table.add(a);
    table.markFailed(a.id);
    assert.equal(table.get(a.id)?.failures, 1);
    assert.ok(table.markSeen(a.id));
    assert.equal(table.get(a.id)?.failures, 0);
    assert.ok(!table.markSeen(contactIn(0).id));
    assert.equal(table.markFailed(contactIn(0).id), undefined);
  });

  it('calls a contact questionable after 15 minutes without news', () => {
    const { table, clock } = setup();
    const a = contactIn(0);
    table.add(a);
    clock.advance(15 * MINUTE - 1);
    assert.equal(table.state(table.get(a.id) ?? assert.fail()), 'good');
    clock.advance(1);
    assert.equal(table.state(table.get(a.id) ?? assert.fail()), 'questionable');
  });

  it('lists the questionable and bad contacts of the buckets whose least recently seen one is not good', () => {
    const { table, clock } = setup({ maxFailures: 2 });
    const [old, bad, fresh] = [contactIn(5), contactIn(5), contactIn(5)];
    const elsewhere = contactIn(7);
    table.add(old);
    clock.advance(5 * MINUTE);
    table.add(bad);
    table.markFailed(bad.id);
    table.markFailed(bad.id);
    clock.advance(5 * MINUTE);
    table.add(fresh);
    table.add(elsewhere);
    // the oldest is still good: the bucket has no questionable contact, the bad one waits
    assert.deepEqual(table.notGood(), []);
    clock.advance(5 * MINUTE);
    const due = table.notGood().map((c) => idToHex(c.id));
    assert.deepEqual(due, [idToHex(old.id), idToHex(bad.id)]);
    const all = [...table.contacts()].filter((c) => table.state(c) !== 'good').map((c) => idToHex(c.id));
    assert.deepEqual(due, all);
    assert.equal(table.bucketSize(5), 3);
    assert.equal(table.bucketSize(7), 1);
    assert.equal(table.bucketSize(6), 0);
  });

  it('limits contacts per /24 in a bucket, and exempts local addresses by default', () => {
    const { table } = setup({ maxPerSubnet: 2 });
    assert.equal(table.add(contactIn(0, '30.1.2.3')).status, 'added');
    assert.equal(table.add(contactIn(0, '30.1.2.4')).status, 'added');
    assert.equal(table.add(contactIn(0, '30.1.2.5')).status, 'rejected-diversity');
    assert.equal(table.add(contactIn(1, '30.1.2.5')).status, 'added'); // another bucket
    for (let i = 0; i < 4; i++)
      assert.equal(table.add({ ...contactIn(2, '127.0.0.1'), port: 1000 + i }).status, 'added');
    const strict = setup({ maxPerSubnet: 1, limitLocalAddresses: true }).table;
    assert.equal(strict.add({ ...contactIn(2, '127.0.0.1'), port: 1 }).status, 'added');
    assert.equal(strict.add({ ...contactIn(2, '127.0.0.1'), port: 2 }).status, 'rejected-diversity');
  });

  it("lets a newcomer take a bad contact's place even from the same /24", () => {
    const { table } = setup({ k: 2, maxPerSubnet: 1 });
    const old = contactIn(0, '30.9.9.1');
    table.add(old);
    table.add(contactIn(0));
    table.markFailed(old.id);
    table.markFailed(old.id);
    const result = table.add(contactIn(0, '30.9.9.2'));
    assert.equal(result.status, 'added');
    assert.ok(!table.has(old.id));
  });

  it('limits contacts per /64 for IPv6', () => {
    const table = new RoutingTable(SELF, { family: 6, maxPerSubnet: 1 });
    assert.equal(table.add(contactIn(0, '2001:db8:1:2::1')).status, 'added');
    assert.equal(table.add(contactIn(0, '2001:db8:1:2::2')).status, 'rejected-diversity');
    assert.equal(table.add(contactIn(0, '2001:db8:1:3::1')).status, 'added');
  });

  it('returns the closest contacts to a target, closest first', () => {
    const { table } = setup();
    const all: Contact[] = [];
    for (let i = 0; i < 12; i++) for (let j = 0; j < 3; j++) all.push(contactIn(i));
    for (const c of all) table.add(c);
    for (const target of [SELF, randomIdInBucket(SELF, 0), randomIdInBucket(SELF, 5), all[7]?.id ?? SELF]) {
      const expected = [...all]
        .sort((a, b) => compareDistance(target, a.id, b.id))
        .slice(0, 8)
        .map((c) => idToHex(c.id));
      assert.deepEqual(
        table.closest(target, 8).map((c) => idToHex(c.id)),
        expected,
      );
    }
    assert.deepEqual(table.closest(SELF, 0), []);
    assert.equal(table.closest(SELF, 100).length, all.length);
  });

  it('lists buckets that have been idle for the refresh interval', () => {
    const { table, clock } = setup();
    table.add(contactIn(0));
    table.add(contactIn(2));
    clock.advance(15 * MINUTE);
    const fresh = contactIn(2);
    table.add(fresh);
    assert.deepEqual(table.staleBuckets(), [0, 1]);
    table.touchBucket(0);
    assert.deepEqual(table.staleBuckets(), [1]);
    assert.equal(bucketIndex(SELF, fresh.id), 2);
  });

  it('emits node:added and node:removed', () => {
    const { table } = setup();
    const added: string[] = [];
    const removed: string[] = [];
    table.on('node:added', (c) => added.push(idToHex(c.id)));
    table.on('node:removed', (e) => removed.push(`${idToHex(e.contact.id)}:${e.reason}`));
    const a = contactIn(4);
    table.add(a);
    assert.ok(table.remove(a.id));
    assert.ok(!table.remove(a.id));
    assert.deepEqual(added, [idToHex(a.id)]);
    assert.deepEqual(removed, [`${idToHex(a.id)}:removed`]);
    assert.equal(table.size, 0);
  });

  it('validates its options and names them', () => {
    const bad = (options: RoutingTableOptions, pattern: RegExp): void => {
      assert.throws(
        () => new RoutingTable(SELF, options),
        (e: unknown) => isKadError(e, 'INVALID_OPTION') && pattern.test(e.message),
      );
    };
    bad({ k: 0 }, /^k must be an integer >= 1/);
    bad({ k: 2.5 }, /^k must be/);
    bad({ questionableAfterMs: -1 }, /^questionableAfterMs/);
    bad({ maxFailures: 0 }, /^maxFailures/);
    bad({ maxPerSubnet: 0 }, /^maxPerSubnet/);
    bad({ replacementCacheSize: -1 }, /^replacementCacheSize/);
    bad({ family: 5 as 4 }, /^family must be 4 or 6/);
    assert.throws(
      () => new RoutingTable(new Uint8Array(3)),
      (e: unknown) => isKadError(e, 'INVALID_ID'),
    );
  });
});

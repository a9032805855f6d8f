import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { idToHex, randomId } from '../../../../src/kad/id.js';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import { DEFAULT_PUBLICATIONS_OPTIONS, Publications } from '../../../../src/kad/node/publications.js';
import { bencode } from '../../../../src/kad/wire/bencode.js';
import { ManualClock } from '../../../../src/testing/index.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const HOUR = 3_600_000;

function book(clock = new ManualClock()): { clock: ManualClock; publications: Publications } {
  return { clock, publications: new Publications({}, { clock }) };
}

describe('Publications', () => {
  it('has frozen defaults of one hour for items and 25 minutes for announcements', () => {
    assert.ok(Object.isFrozen(DEFAULT_PUBLICATIONS_OPTIONS));
    assert.deepEqual(DEFAULT_PUBLICATIONS_OPTIONS, { republishMs: HOUR, reannounceMs: 25 * 60_000 });
  });

  it('records an item by its target, due one republish interval after it was published', () => {
    const { clock, publications } = book();
    const entry = publications.addItem({ v: text('a') });
    assert.deepEqual(entry.target, immutableTarget(text('a')));
    assert.equal(entry.nextDueAt, clock.now() + HOUR);
    assert.deepEqual(publications.due(), []);
    clock.advance(HOUR);
    assert.deepEqual(publications.due(), [entry]);
  });

  it('keeps a mutable item with its seq, salt and signature, and a newer put replaces it', () => {
    const { publications } = book();
    const keys = keyPairFromSeed(new Uint8Array(32).fill(1));
    const salt = text('s');
    const first = createMutableItem(keys, text('v1'), 4, salt);
    publications.addItem(first);
    const second = createMutableItem(keys, text('v2'), 5, salt);
    publications.addItem(second);
    const entry = publications.item(mutableTarget(keys.publicKey, salt));
    assert.deepEqual(entry?.item, second);
    assert.equal(publications.size, 1);
  });

  it('records announcements apart from items and removes either by its key', () => {
    const { publications } = book();
    const infoHash = randomId();
    publications.addAnnouncement(infoHash, 6881, false);
    publications.addItem({ v: text('b') });
    assert.equal(publications.size, 2);
    assert.equal(publications.announcement(infoHash)?.port, 6881);
    assert.equal(publications.removeItem(infoHash), false);
    assert.equal(publications.removeAnnouncement(infoHash), true);
    assert.equal(publications.removeItem(immutableTarget(text('b'))), true);
    assert.equal(publications.size, 0);
  });

  it('lists what is due earliest first and reschedules what was published again', () => {
    const { clock, publications } = book();
    const start = clock.now();
    const item = publications.addItem({ v: text('c') });
    const announce = publications.addAnnouncement(randomId(), 1, true);
    assert.equal(publications.nextDueAt(), start + 25 * 60_000);
    clock.advance(2 * HOUR);
    assert.deepEqual(
      publications.due().map((p) => p.kind),
      ['announce', 'item'],
    );
    // two hours late: due again an hour from now, not at its old cadence
    const again = publications.published(item);
    assert.equal(again?.nextDueAt, clock.now() + HOUR);
    publications.postpone(announce, clock.now() + 1000);
    assert.deepEqual(publications.due(), []);
    assert.equal(publications.nextDueAt(), clock.now() + 1000);
  });

  it('keeps the cadence of an entry republished a little after it was due', () => {
    const { clock, publications } = book();
    const entry = publications.addItem({ v: text('cadence') });
    clock.advance(HOUR + 90_000);
    assert.equal(publications.published(entry)?.nextDueAt, entry.nextDueAt + HOUR);
  });

  it('does not reschedule an entry replaced meanwhile', () => {
    const { clock, publications } = book();
    const keys = keyPairFromSeed(new Uint8Array(32).fill(2));
    const old = publications.addItem(createMutableItem(keys, 1, 1));
    clock.advance(10);
    const newer = publications.addItem(createMutableItem(keys, 2, 2));
    assert.equal(publications.published(old), newer);
    publications.postpone(old, 0);
    assert.equal(publications.item(old.target), newer);
  });

  it('round-trips through plain JSON data', () => {
    const { clock, publications } = book();
    const keys = keyPairFromSeed(new Uint8Array(32).fill(3));
    publications.addItem({ v: [text('x'), 1, { a: text('y') }] });
    publications.addItem(createMutableItem(keys, text('m'), 9, text('salt')));
    publications.addItem(createMutableItem(keys, text('n'), 1));
    publications.addAnnouncement(randomId(), 0, true);
    const json = JSON.parse(JSON.stringify(publications)) as unknown;
    const copy = Publications.fromJSON(json, {}, { clock });
    assert.deepEqual(copy.toJSON(), publications.toJSON());
    // bdecode gives null-prototype dicts: compare the items by their bencoding
    const flat = (b: Publications): unknown[] =>
      b.all().map((p) => (p.kind === 'item' ? { ...p, item: { ...p.item, v: bencode(p.item.v) } } : p));
    assert.deepEqual(flat(copy), flat(publications));
  });

  it('keeps a 64-bit sequence number beyond 2^53 exact through plain JSON data', () => {
    const { clock, publications } = book();
    const keys = keyPairFromSeed(new Uint8Array(32).fill(4));
    const seq = 2n ** 63n - 1n;
    publications.addItem(createMutableItem(keys, text('big'), seq));
    const copy = Publications.fromJSON(JSON.parse(JSON.stringify(publications)) as unknown, {}, { clock });
    const [entry] = copy.all();
    assert.ok(entry?.kind === 'item' && 'k' in entry.item);
    assert.equal(entry.item.seq, seq);
  });

  it('refuses state with a forged signature, a wrong target or another version, and keeps what it had', () => {
    const { clock, publications } = book();
    const keys = keyPairFromSeed(new Uint8Array(32).fill(4));
    publications.addItem(createMutableItem(keys, text('m'), 1));
    const good = publications.toJSON();
    const forged = { ...good, items: [{ ...good.items[0], seq: 2 }] };
    const wrongTarget = { ...good, items: [{ ...good.items[0], target: idToHex(randomId()) }] };
    const cases: unknown[] = [forged, wrongTarget, { ...good, version: 2 }, null, { version: 1, items: {} }, 'x'];
    for (const state of cases) {
      assert.throws(
        () => publications.load(state),
        (e: unknown) => isKadError(e, 'CORRUPT_STATE'),
      );
    }
    assert.deepEqual(publications.toJSON(), good);
    assert.throws(() => Publications.fromJSON({ ...good, announcements: [{ infoHash: 'zz' }] }, {}, { clock }));
  });

  it('names the option of a bad interval', () => {
    const clock = new ManualClock();
    assert.throws(() => new Publications({ republishMs: 0 }, { clock }), /republishMs must be an integer >= 1/);
  });
});

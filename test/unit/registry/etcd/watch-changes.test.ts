import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecord } from '../../../../src/registry/etcd/calls.js';
import { decodeChange, MessageViews, QueuedChange, removedOf } from '../../../../src/registry/etcd/watch-changes.js';

const PREFIX = 'app:';

/** One received message holding two events' keys and a record, as gRPC hands them over: views of one buffer. */
function message(): { key: Buffer; other: Buffer; value: Buffer } {
  const record = encodeRecord({
    key: 'é/1',
    value: Buffer.from('hello'),
    version: 3,
    createdAt: 1000,
    updatedAt: 2000,
    expiresAt: 9000,
  });
  const key = Buffer.from(`${PREFIX}é/1`);
  const other = Buffer.from(`${PREFIX}b`);
  const whole = Buffer.concat([Buffer.from([0xaa, 0xbb]), key, record, other]);
  const at = 2 + key.length;
  return {
    key: whole.subarray(2, at),
    value: whole.subarray(at, at + record.length),
    other: whole.subarray(at + record.length),
  };
}

describe('EtcdRegistry watch queue', () => {
  it('keeps the events of one message as ranges of a single view of it', () => {
    const views = new MessageViews();
    const { key, value, other } = message();
    const a = views.slice(key);
    const b = views.slice(value);
    const c = views.slice(other);
    assert.equal(a.view, b.view);
    assert.equal(b.view, c.view);
    assert.deepEqual(a.view.subarray(a.start, a.end), key);
    assert.deepEqual(c.view.subarray(c.start, c.end), other);
    // another message gets a view of its own
    assert.notEqual(views.slice(Buffer.alloc(16)).view, a.view);
  });

  it('decodes a queued set into its key (UTF-8, without the namespace), record and cursor', () => {
    const views = new MessageViews();
    const { key, value } = message();
    const change = decodeChange(
      new QueuedChange(views.slice(key), views.slice(value), 17, 2, undefined),
      Buffer.byteLength(PREFIX),
    );
    assert.equal(change.type, 'set');
    assert.equal(change.cursor, '17.2');
    if (change.type !== 'set') return;
    assert.equal(change.record.key, 'é/1');
    assert.equal(change.record.version, 3);
    assert.equal(change.record.createdAt, 1000);
    assert.equal(change.record.updatedAt, 2000);
    assert.equal(change.record.expiresAt, 9000);
    assert.equal(Buffer.from(change.record.value).toString(), 'hello');
  });

  it('holds a removal until what it removed is known, then reports its version and reason', () => {
    const views = new MessageViews();
    const { key, value } = message();
    const queued = new QueuedChange(views.slice(key), undefined, 18, 0, { reason: 'delete', at: 5000 });
    assert.equal(queued.ready, false);
    assert.deepEqual(queued.etcdKey, key);
    queued.removed = removedOf(Buffer.from(value));
    assert.equal(queued.ready, true);
    // deadline 9000 had not passed at the marker's time (5000): the caller's delete
    assert.deepEqual(decodeChange(queued, Buffer.byteLength(PREFIX)), {
      type: 'removed',
      key: 'é/1',
      version: 3,
      reason: 'delete',
      cursor: '18.0',
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkVersionHistory, type VersionOperation } from '../../../../src/testing/index.js';

const read = (version: number, invokedAt: number, returnedAt: number): VersionOperation => ({
  kind: 'read',
  version,
  invokedAt,
  returnedAt,
});
const cas = (
  from: number,
  outcome: 'ok' | 'conflict' | 'unknown',
  invokedAt: number,
  returnedAt: number,
): VersionOperation => ({ kind: 'cas', from, outcome, invokedAt, returnedAt });

describe('checkVersionHistory', () => {
  it('accepts one client reading and incrementing in turn', () => {
    const history = [read(0, 0, 1), cas(0, 'ok', 2, 3), read(1, 4, 5), cas(1, 'ok', 6, 7), read(2, 8, 9)];
    assert.equal(checkVersionHistory(history).linearizable, true);
  });

  it('accepts overlapping writes from one version when one wins and the other is refused, whatever their order of return', () => {
    const history = [cas(0, 'conflict', 0, 10), cas(0, 'ok', 1, 5), read(1, 11, 12)];
    assert.equal(checkVersionHistory(history).linearizable, true);
  });

  it('rejects a read that misses a write acknowledged before the read began (a lost write or a stale read)', () => {
    const verdict = checkVersionHistory([cas(0, 'ok', 0, 1), read(0, 2, 3)]);
    assert.equal(verdict.linearizable, false);
    assert.deepEqual(verdict.stuckAt, [read(0, 2, 3)]);
  });

  it('rejects two acknowledged writes from the same version (one update applied over the other)', () => {
    assert.equal(checkVersionHistory([cas(0, 'ok', 0, 5), cas(0, 'ok', 1, 6)]).linearizable, false);
  });

  it('rejects a read of a version written only after the read returned', () => {
    assert.equal(checkVersionHistory([read(1, 0, 1), cas(0, 'ok', 2, 3)]).linearizable, false);
  });

  it('accepts an unknown write either way: seen by a later read, or never applied', () => {
    assert.equal(checkVersionHistory([cas(0, 'unknown', 0, 1), read(1, 5, 6)]).linearizable, true);
    assert.equal(checkVersionHistory([cas(0, 'unknown', 0, 1), read(0, 5, 6)]).linearizable, true);
  });

  it('lets an unknown write take effect long after its call failed, but not before it was invoked', () => {
    // the client gave up at 1; the write still lands between the two reads
    const late = [cas(0, 'unknown', 0, 1), read(0, 5, 6), read(1, 7, 8)];
    assert.equal(checkVersionHistory(late).linearizable, true);
    assert.equal(checkVersionHistory([read(1, 0, 1), cas(0, 'unknown', 2, 3)]).linearizable, false);
  });

  it('starts from initialVersion', () => {
    assert.equal(checkVersionHistory([read(7, 0, 1)], { initialVersion: 7 }).linearizable, true);
    assert.equal(checkVersionHistory([read(7, 0, 1)]).linearizable, false);
  });

  it('checks a history of 4 concurrent clients and 8 000 operations, visiting about one state per operation, and finds one stale read in it', () => {
    // a register served by one process: each call takes effect at a random moment of its call
    let version = 0;
    let seed = 1;
    const random = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const history: VersionOperation[] = [];
    const clients = [0, 0, 0, 0].map(() => ({ at: 0, lastRead: 0 }));
    const events: { at: number; run: () => void }[] = [];
    for (let step = 0; step < 8000; step++) {
      const client = clients[step % 4]!;
      const invokedAt = client.at + random();
      const effectAt = invokedAt + random() * 3;
      const returnedAt = effectAt + random() * 3;
      client.at = returnedAt;
      const isRead = step % 8 < 4;
      events.push({
        at: effectAt,
        run: () => {
          if (isRead) {
            client.lastRead = version;
            history.push(read(version, invokedAt, returnedAt));
          } else {
            // guarded by what this client's previous read returned (it took effect before this call began)
            const from = client.lastRead;
            const ok = version === from;
            if (ok) version++;
            history.push(cas(from, ok ? 'ok' : 'conflict', invokedAt, returnedAt));
          }
        },
      });
    }
    // effects in time order
    events.sort((a, b) => a.at - b.at).forEach((e) => e.run());
    const acknowledged = history.filter((op) => op.kind === 'cas' && op.outcome === 'ok').length;
    assert.ok(acknowledged > 500, `${acknowledged} acknowledged writes: the clients do contend and advance`);
    const verdict = checkVersionHistory(history);
    assert.equal(verdict.linearizable, true);
    assert.ok(verdict.explored < 4 * history.length, `${verdict.explored} states for ${history.length} operations`);
    // the same history with one read in the middle answered with the first version
    const at = history.findIndex((op, i) => i > 4000 && op.kind === 'read' && op.version >= 10);
    const stale = history.map((op, i) => (i === at && op.kind === 'read' ? { ...op, version: 0 } : op));
    assert.equal(checkVersionHistory(stale).linearizable, false);
  });

  it('throws a RangeError instead of searching past maxStates', () => {
    // 20 overlapping reads can be placed in 2^20 orders of subsets before the impossible last read
    const history = Array.from({ length: 20 }, (_, i) => read(0, i, 1000));
    history.push(read(99, 1001, 1002));
    assert.throws(() => checkVersionHistory(history, { maxStates: 100 }), RangeError);
  });
});

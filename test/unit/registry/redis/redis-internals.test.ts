import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { isRegistryError, RegistryError } from '../../../../src/registry/index.js';
import { escapeGlob, groupBySlot } from '../../../../src/registry/redis/batches.js';
import { checkServerVersion, toRegistryError } from '../../../../src/registry/redis/connection.js';
import { Deadlines } from '../../../../src/registry/redis/deadlines.js';
import { HEADER_BYTES, readRecord } from '../../../../src/registry/record-layout.js';
import { ManualClock } from '../../../../src/testing/index.js';

const never = new Promise<never>(() => {});
const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

describe('Redis deadlines', () => {
  it('rejects a pending operation with TIMEOUT no later than timeoutMs', async () => {
    const clock = new ManualClock(1_000_000);
    const deadlines = new Deadlines(clock, 1000, asError);
    let settled: unknown;
    deadlines.run(never).catch((e: unknown) => (settled = e));
    clock.advance(999);
    await Promise.resolve();
    assert.equal(settled, undefined);
    clock.advance(1);
    await Promise.resolve();
    assert.ok(isRegistryError(settled, 'TIMEOUT'));
  });

  it('maps failures, passes values through onValue, and ignores a reply after the deadline', async () => {
    const clock = new ManualClock(0);
    const deadlines = new Deadlines(clock, 100, (e) => new RegistryError('BACKEND_UNAVAILABLE', String(e)));
    assert.equal(await deadlines.track(Promise.resolve(20), (n) => n + 1), 21);
    await assert.rejects(deadlines.run(Promise.reject(new Error('boom'))), (e: unknown) =>
      isRegistryError(e, 'BACKEND_UNAVAILABLE'),
    );
    let late!: (value: number) => void;
    const slow = deadlines.run(new Promise<number>((resolve) => (late = resolve)));
    clock.advance(100);
    late(1);
    await assert.rejects(slow, (e: unknown) => isRegistryError(e, 'TIMEOUT'));
  });

  it('rejects with the signal reason on abort, and everything with the given error on abortAll', async () => {
    const deadlines = new Deadlines(new ManualClock(0), 1000, asError);
    const controller = new AbortController();
    const reason = new Error('stop');
    const aborted = deadlines.run(never, controller.signal);
    const other = deadlines.run(never);
    controller.abort(reason);
    await assert.rejects(aborted, (e: unknown) => e === reason);
    deadlines.abortAll(RegistryError.closed());
    await assert.rejects(other, (e: unknown) => isRegistryError(e, 'CLOSED'));
  });

  it("removes its listener from the caller's signal when the deadline passes before the reply", async () => {
    const clock = new ManualClock(0);
    const deadlines = new Deadlines(clock, 100, asError);
    const signal = new AbortController().signal;
    const calls = [deadlines.run(never, signal), deadlines.track(never, () => 1, signal)];
    assert.equal(getEventListeners(signal, 'abort').length, 2);
    clock.advance(100);
    for (const call of calls) await assert.rejects(call, (e: unknown) => isRegistryError(e, 'TIMEOUT'));
    assert.equal(getEventListeners(signal, 'abort').length, 0);
  });

  it('keeps a call under its deadline while the work that follows the reply runs', async () => {
    const clock = new ManualClock(0);
    const deadlines = new Deadlines(clock, 100, asError);
    const slow = deadlines.track(Promise.resolve(1), () => never);
    await Promise.resolve();
    clock.advance(100);
    await assert.rejects(slow, (e: unknown) => isRegistryError(e, 'TIMEOUT'));
  });
});

describe('Redis deadlines: idle', () => {
  it('resolves once every call tracked before it has settled, or at once when none is pending', async () => {
    const clock = new ManualClock(0);
    const deadlines = new Deadlines(clock, 100, asError);
    await deadlines.idle();
    let finish!: (value: number) => void;
    const call = deadlines.run(new Promise<number>((resolve) => (finish = resolve)));
    let idle = false;
    const waiting = deadlines.idle().then(() => (idle = true));
    await Promise.resolve();
    assert.equal(idle, false);
    finish(1);
    assert.equal(await call, 1);
    await waiting;
    assert.equal(idle, true);
  });
});

describe('Redis batch grouping', () => {
  it('groups indices by slot, in order, in chunks', () => {
    const slots = [5, 1, 5, 5, 1, 5];
    assert.deepEqual(
      groupBySlot(slots.length, (i) => slots[i] ?? 0, 2),
      [
        [0, 2],
        [1, 4],
        [3, 5],
      ],
    );
    assert.deepEqual(
      groupBySlot(0, () => 0, 2),
      [],
    );
  });

  it('escapes glob characters for SCAN MATCH', () => {
    assert.equal(escapeGlob('a*b?c[d]e\\f'), 'a\\*b\\?c\\[d\\]e\\\\f');
  });
});

describe('Redis record layout', () => {
  it('reads the header and a view of the value', () => {
    const stored = Buffer.alloc(HEADER_BYTES + 2);
    stored[0] = 1;
    stored.writeDoubleLE(3, 1);
    stored.writeDoubleLE(1_700_000_000_000, 9);
    stored.writeDoubleLE(1_700_000_000_500, 17);
    stored.writeDoubleLE(0, 25);
    stored.set([7, 8], HEADER_BYTES);
    const record = readRecord('k', stored);
    assert.deepEqual(
      { ...record, value: [...record.value] },
      {
        key: 'k',
        value: [7, 8],
        version: 3,
        expiresAt: undefined,
        createdAt: 1_700_000_000_000,
        updatedAt: 1_700_000_000_500,
      },
    );
  });

  it('rejects bytes not in the layout with CODEC_ERROR', () => {
    assert.throws(
      () => readRecord('k', Buffer.from('plain string')),
      (e: unknown) => isRegistryError(e, 'CODEC_ERROR'),
    );
  });
});

describe('Redis server version check', () => {
  it('accepts Redis 7 and newer and rejects older servers with BACKEND_UNAVAILABLE naming the version', () => {
    for (const version of ['7.0.15', '7.4.1', '8.0.0', '10.1.0'])
      assert.doesNotThrow(() => checkServerVersion(version));
    for (const version of ['6.2.14', '5.0.7', 'unknown']) {
      assert.throws(
        () => checkServerVersion(version),
        (error: unknown) => isRegistryError(error, 'BACKEND_UNAVAILABLE') && error.message.includes(version),
      );
    }
  });
});

describe('Redis error mapping', () => {
  it('maps a refused argument to INVALID_OPTION, not to an unavailable server', () => {
    for (const reply of [
      'ERR value is not an integer or out of range script: 0123, on @user_script:22.',
      "ERR invalid expire time in 'set' command",
    ]) {
      const error = toRegistryError(new Error(reply));
      assert.ok(isRegistryError(error, 'INVALID_OPTION'), `${reply} → ${error.code}`);
      assert.match(error.message, /Redis refused an argument/);
    }
    assert.ok(isRegistryError(toRegistryError(new Error('LOADING Redis is loading')), 'BACKEND_UNAVAILABLE'));
  });
});

import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { StorageGate } from '../../../../src/kad/serve/storage-gate.js';
import { ManualClock } from '../../../../src/testing/index.js';

/** Storage work that never answers unless its signal aborts (a stalled backend). */
function stalled(seen: AbortSignal[] = []): (signal: AbortSignal) => Promise<never> {
  return (signal) =>
    new Promise((_resolve, reject) => {
      seen.push(signal);
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
}

/** Storage work that ignores its signal and answers only when `release` is called. */
function deaf(): { work: () => Promise<string>; release: () => void } {
  let release = (): void => undefined;
  const answer = new Promise<string>((resolve) => {
    release = () => resolve('late');
  });
  return { work: () => answer, release: () => release() };
}

const settle = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe('StorageGate', () => {
  it('runs work and resolves with its result', async () => {
    const gate = new StorageGate({}, { clock: new ManualClock() });
    assert.equal(await gate.run(undefined, () => Promise.resolve(7)), 7);
    assert.deepEqual(gate.stats(), { waiting: 0, refused: 0, timedOut: 0 });
  });

  it('refuses with OVERLOADED (wire 202) once maxWaiting queries wait, without running the work', async () => {
    const clock = new ManualClock();
    const gate = new StorageGate({ maxWaiting: 2, timeoutMs: 1000 }, { clock });
    const first = settle(gate.run(undefined, stalled()));
    const second = settle(gate.run(undefined, stalled()));
    let ran = false;
    await assert.rejects(
      gate.run(undefined, () => {
        ran = true;
        return Promise.resolve();
      }),
      (e: unknown) => isKadError(e, 'OVERLOADED') && e.wireCode === 202,
    );
    assert.equal(ran, false);
    assert.deepEqual(gate.stats(), { waiting: 2, refused: 1, timedOut: 0 });
    await clock.advanceAsync(1000);
    await Promise.all([first, second]);
    assert.equal(gate.stats().waiting, 0);
  });

  it('rejects with TIMEOUT at the deadline and aborts the signal it gave the work', async () => {
    const clock = new ManualClock();
    const gate = new StorageGate({ timeoutMs: 500 }, { clock });
    const signals: AbortSignal[] = [];
    const outcome = settle(gate.run(undefined, stalled(signals)));
    await clock.advanceAsync(499);
    assert.equal(signals[0]?.aborted, false);
    await clock.advanceAsync(1);
    const { error } = (await outcome) as { error: unknown };
    assert.ok(isKadError(error, 'TIMEOUT'));
    assert.equal(signals[0]?.aborted, true);
    assert.deepEqual(gate.stats(), { waiting: 0, refused: 0, timedOut: 1 });
  });

  it('answers at the deadline even when the work ignores its signal, and keeps its place until it settles', async () => {
    const clock = new ManualClock();
    const gate = new StorageGate({ maxWaiting: 1, timeoutMs: 500 }, { clock });
    const { work, release } = deaf();
    const outcome = settle(gate.run(undefined, work));
    await clock.advanceAsync(500);
    assert.ok(isKadError(((await outcome) as { error: unknown }).error, 'TIMEOUT'));
    assert.equal(gate.stats().waiting, 1);
    await assert.rejects(gate.run(undefined, stalled()), (e: unknown) => isKadError(e, 'OVERLOADED'));
    release();
    await clock.advanceAsync(0);
    assert.equal(gate.stats().waiting, 0);
    assert.equal(await gate.run(undefined, () => Promise.resolve('next')), 'next');
  });

  it('adds one listener to a shared signal however many queries wait, then and later, and none once it aborted', async () => {
    const clock = new ManualClock();
    const gate = new StorageGate({ maxWaiting: 1000, timeoutMs: 100 }, { clock });
    const lifetime = new AbortController();
    const outcomes = Array.from({ length: 500 }, () => settle(gate.run(lifetime.signal, stalled())));
    assert.equal(getEventListeners(lifetime.signal, 'abort').length, 1);
    await clock.advanceAsync(100);
    await Promise.all(outcomes);
    assert.equal(await gate.run(lifetime.signal, () => Promise.resolve('later')), 'later');
    assert.equal(getEventListeners(lifetime.signal, 'abort').length, 1);
    lifetime.abort(new Error('closing'));
    assert.equal(getEventListeners(lifetime.signal, 'abort').length, 0);
  });

  it('aborts every waiting query with the reason of the shared signal', async () => {
    const clock = new ManualClock();
    const gate = new StorageGate({}, { clock });
    const lifetime = new AbortController();
    const signals: AbortSignal[] = [];
    const outcomes = [
      settle(gate.run(lifetime.signal, stalled(signals))),
      settle(gate.run(lifetime.signal, stalled(signals))),
    ];
    const reason = new Error('closing');
    lifetime.abort(reason);
    for (const outcome of await Promise.all(outcomes)) assert.equal((outcome as { error: unknown }).error, reason);
    assert.ok(signals.every((s) => s.aborted && s.reason === reason));
    await assert.rejects(
      gate.run(lifetime.signal, () => Promise.resolve()),
      (e: unknown) => e === reason,
    );
    assert.equal(gate.stats().waiting, 0);
  });

  it('validates its options, naming them', () => {
    assert.throws(() => new StorageGate({ maxWaiting: 0 }), /maxStorageWaiting must be an integer >= 1/);
    assert.throws(() => new StorageGate({ timeoutMs: -1 }), /storageTimeoutMs must be a positive number/);
  });
});

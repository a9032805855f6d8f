import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRegistry, RegistryError } from '../../../src/registry/index.js';
import { FaultRegistry, ManualClock } from '../../../src/testing/index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('FaultRegistry', () => {
  it('passes every call through when no fault is injected, events included', async () => {
    const clock = new ManualClock();
    const faulty = new FaultRegistry(new MemoryRegistry({}, { clock }), { clock });
    const seen: string[] = [];
    faulty.on('record:set', (e) => seen.push(e.key));
    await faulty.set('a', bytes('1'));
    assert.equal((await faulty.get('a'))?.version, 1);
    assert.deepEqual(seen, ['a']);
    assert.equal(faulty.calls('set'), 1);
    await faulty.close();
  });

  it('rejects the faulted operations with the chosen code and leaves the others alone', async () => {
    const faulty = new FaultRegistry(new MemoryRegistry());
    faulty.inject({ type: 'error', code: 'TIMEOUT' }, ['set']);
    await assert.rejects(
      faulty.set('a', bytes('1')),
      (e: unknown) => e instanceof RegistryError && e.code === 'TIMEOUT',
    );
    assert.equal(await faulty.get('a'), undefined);
    faulty.inject({ type: 'error' });
    await assert.rejects(
      faulty.get('a'),
      (e: unknown) => e instanceof RegistryError && e.code === 'BACKEND_UNAVAILABLE',
    );
    faulty.heal();
    await faulty.set('a', bytes('1'));
    await faulty.close();
  });

  it('hangs until the caller aborts, or proceeds when healed', async () => {
    const faulty = new FaultRegistry(new MemoryRegistry());
    faulty.inject({ type: 'hang' }, ['get', 'set']);
    const controller = new AbortController();
    const aborted = faulty.get('a', { signal: controller.signal });
    controller.abort(new Error('deadline'));
    await assert.rejects(aborted, /deadline/);
    const write = faulty.set('a', bytes('1'));
    faulty.heal();
    assert.equal((await write).version, 1);
    await faulty.close();
  });

  it('delays calls by the injected latency on the clock', async () => {
    const clock = new ManualClock();
    const faulty = new FaultRegistry(new MemoryRegistry({}, { clock }), { clock });
    faulty.inject({ type: 'latency', ms: 100 }, ['size']);
    let done = false;
    const sizing = faulty.size().then((n) => {
      done = true;
      return n;
    });
    await clock.advanceAsync(99);
    assert.equal(done, false);
    await clock.advanceAsync(1);
    assert.equal(await sizing, 0);
    assert.equal(faulty.faultOf('size')?.type, 'latency');
    await faulty.close();
  });
});

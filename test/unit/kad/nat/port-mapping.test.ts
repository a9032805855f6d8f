import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KadError } from '../../../../src/kad/errors.js';
import type { PortMapper, PortMappingMode, PortMappingProtocol } from '../../../../src/kad/nat/port-mapper.js';
import {
  DEFAULT_PORT_MAPPING_OPTIONS,
  PortMappingKeeper,
  type PortMappingState,
} from '../../../../src/kad/nat/port-mapping.js';
import { ManualClock } from '../../../../src/testing/index.js';

/** What a fake router does with a request: grant, refuse, or never answer. */
type Behaviour = 'grant' | 'refuse' | 'hang';

/** A router's client whose behaviour the test switches; it records every call. */
class FakeMapper implements PortMapper {
  readonly calls: string[] = [];
  behaviour: Behaviour;
  closed = false;

  constructor(
    readonly protocol: PortMappingProtocol,
    behaviour: Behaviour,
  ) {
    this.behaviour = behaviour;
  }

  map(request: { externalPort: number; lifetimeMs: number }, signal: AbortSignal) {
    this.calls.push(`map ${request.externalPort} ${request.lifetimeMs}`);
    if (this.behaviour === 'refuse') return Promise.reject(KadError.portMappingFailed('refused'));
    if (this.behaviour === 'hang') {
      // answers nothing; only the caller's deadline ends the wait
      return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    }
    return Promise.resolve({ externalPort: request.externalPort, lifetimeMs: request.lifetimeMs });
  }

  unmap(request: { externalPort: number }) {
    this.calls.push(`unmap ${request.externalPort}`);
    return this.behaviour === 'grant' ? Promise.resolve() : Promise.reject(KadError.portMappingFailed('refused'));
  }

  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

const LEASE_MS = 60_000;
const TIMEOUT_MS = 2000;
const RETRY_MS = 30_000;

function keeper(mode: PortMappingMode, behaviours: Partial<Record<PortMappingProtocol, Behaviour>>) {
  const clock = new ManualClock();
  const mappers = new Map<PortMappingProtocol, FakeMapper>();
  const states: PortMappingState[] = [];
  const k = new PortMappingKeeper({
    mode,
    internalPort: 6881,
    clock,
    factory: (protocol) => {
      const mapper = new FakeMapper(protocol, behaviours[protocol] ?? 'refuse');
      mappers.set(protocol, mapper);
      return mapper;
    },
    options: { ...DEFAULT_PORT_MAPPING_OPTIONS, lifetimeMs: LEASE_MS, timeoutMs: TIMEOUT_MS, retryMs: RETRY_MS },
    onChange: (state) => states.push(state),
  });
  return { clock, mappers, states, keeper: k };
}

describe('PortMappingKeeper', () => {
  it('asks for its own port and reports the mapping with the lease end on its clock', async () => {
    const { clock, keeper: k } = keeper('upnp', { upnp: 'grant' });
    k.start();
    await clock.advanceAsync(0);
    assert.deepEqual(k.current(), {
      state: 'mapped',
      protocol: 'upnp',
      internalPort: 6881,
      externalPort: 6881,
      expiresAt: clock.now() + LEASE_MS,
      renewals: 0,
    });
    await k.close();
  });

  it("with 'auto' tries NAT-PMP first and falls back to UPnP when it refuses", async () => {
    const { clock, mappers, keeper: k } = keeper('auto', { natpmp: 'refuse', upnp: 'grant' });
    k.start();
    await clock.advanceAsync(0);
    assert.equal(k.current().state === 'mapped' && k.current().state, 'mapped');
    assert.deepEqual(mappers.get('natpmp')?.calls, [`map 6881 ${LEASE_MS}`]);
    assert.deepEqual(mappers.get('upnp')?.calls, [`map 6881 ${LEASE_MS}`]);
    const state = k.current();
    assert.ok(state.state === 'mapped' && state.protocol === 'upnp');
    await k.close();
  });

  it('renews at half the lease, before it ends, and counts the renewals', async () => {
    const { clock, mappers, keeper: k } = keeper('natpmp', { natpmp: 'grant' });
    k.start();
    await clock.advanceAsync(0);
    await clock.advanceAsync(LEASE_MS / 2 - 1);
    assert.equal(mappers.get('natpmp')?.calls.length, 1);
    await clock.advanceAsync(1);
    assert.equal(mappers.get('natpmp')?.calls.length, 2);
    await clock.advanceAsync(LEASE_MS);
    const state = k.current();
    assert.ok(state.state === 'mapped');
    assert.equal(state.renewals, 3);
    assert.ok(state.expiresAt > clock.now());
    await k.close();
  });

  it('reports a failed renewal as LOST and tries again after retryMs', async () => {
    const { clock, mappers, keeper: k } = keeper('upnp', { upnp: 'grant' });
    k.start();
    await clock.advanceAsync(0);
    const upnp = mappers.get('upnp')!;
    upnp.behaviour = 'refuse';
    await clock.advanceAsync(LEASE_MS / 2);
    const lost = k.current();
    assert.ok(lost.state === 'failed');
    assert.equal(lost.reason, 'LOST');
    assert.equal(lost.retryAt, clock.now() + RETRY_MS);
    upnp.behaviour = 'grant';
    await clock.advanceAsync(RETRY_MS);
    assert.equal(k.current().state, 'mapped');
    await k.close();
  });

  it('gives a router that never answers a TIMEOUT within timeoutMs per protocol, not a hang', async () => {
    const { clock, states, keeper: k } = keeper('auto', { natpmp: 'hang', upnp: 'hang' });
    k.start();
    await clock.advanceAsync(TIMEOUT_MS);
    assert.equal(k.current().state, 'requesting');
    await clock.advanceAsync(TIMEOUT_MS);
    const failed = k.current();
    assert.ok(failed.state === 'failed');
    assert.equal(failed.reason, 'TIMEOUT');
    assert.deepEqual(
      states.map((s) => s.state),
      ['failed'],
    );
    await k.close();
  });

  it('reports an absent router as PORT_MAPPING_FAILED at once', async () => {
    const { clock, keeper: k } = keeper('auto', {});
    k.start();
    await clock.advanceAsync(0);
    const failed = k.current();
    assert.ok(failed.state === 'failed');
    assert.equal(failed.reason, 'PORT_MAPPING_FAILED');
    await k.close();
  });

  it('deletes the held mapping on close and closes its clients', async () => {
    const { clock, mappers, keeper: k } = keeper('upnp', { upnp: 'grant' });
    k.start();
    await clock.advanceAsync(0);
    await k.close();
    const upnp = mappers.get('upnp')!;
    assert.deepEqual(upnp.calls.at(-1), 'unmap 6881');
    assert.equal(upnp.closed, true);
    assert.deepEqual(k.current(), { state: 'closed' });
    await clock.advanceAsync(LEASE_MS);
    assert.equal(upnp.calls.filter((c) => c.startsWith('map')).length, 1, 'no renewal after close');
  });

  it('closes at once while a request hangs, without waiting for the router', async () => {
    const { clock, keeper: k } = keeper('upnp', { upnp: 'hang' });
    k.start();
    await clock.advanceAsync(100);
    await k.close();
    assert.deepEqual(k.current(), { state: 'closed' });
  });

  it("does nothing with 'off'", async () => {
    const { clock, mappers, keeper: k } = keeper('off', { upnp: 'grant' });
    k.start();
    await clock.advanceAsync(LEASE_MS);
    assert.deepEqual(k.current(), { state: 'off' });
    assert.equal(mappers.size, 0);
    await k.close();
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KadError } from '../../../../src/kad/errors.js';
import type { PortMapper } from '../../../../src/kad/nat/port-mapper.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import type { ReachabilityChangedEvent } from '../../../../src/kad/node/reachability.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const MINUTE = 60_000;
const CHECK_MS = 5 * MINUTE;

/** A router client that grants (or refuses) every request and records them. */
function fakeMapper(grant: boolean, calls: string[]): () => PortMapper {
  return () => ({
    protocol: 'upnp',
    map: (request) => {
      calls.push(`map ${request.externalPort}`);
      return grant
        ? Promise.resolve({ externalPort: request.externalPort, lifetimeMs: request.lifetimeMs })
        : Promise.reject(KadError.portMappingFailed('refused'));
    },
    unmap: (request) => {
      calls.push(`unmap ${request.externalPort}`);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
}

/** A 12-node network on virtual time and one more node with `options`, joined through the first. */
async function setUp(
  options: KadNodeOptions,
): Promise<{ net: KadTestNetwork; node: KadNode; events: ReachabilityChangedEvent[] }> {
  const net = await buildKadNetwork({ size: 12, seed: 18, node: { maintenance: { firewallCheckMs: CHECK_MS } } });
  const events: ReachabilityChangedEvent[] = [];
  const node = await createNode({
    transport: net.network.createTransport(),
    clock: net.clock,
    bootstrap: [net.nodes[0]!.address()],
    maintenance: { firewallCheckMs: CHECK_MS },
    ...options,
  });
  node.on('reachability:changed', (e) => events.push(e));
  net.nodes.push(node);
  await net.run(node.ready);
  return { net, node, events };
}

describe('KadNode reachability and port mapping', () => {
  it('is unknown at start, and mapped once a contact dials back the mapped port', async () => {
    const calls: string[] = [];
    const { net, node, events } = await setUp({ portMapping: 'upnp', portMapper: fakeMapper(true, calls) });
    try {
      await net.run(
        new Promise<void>((resolve) => {
          if (node.reachability().reachability === 'mapped') resolve();
          node.on('reachability:changed', (e) => e.report.reachability === 'mapped' && resolve());
        }),
        MINUTE,
      );
      const report = node.reachability();
      assert.equal(report.verifiedBy, 'dial-back');
      assert.equal(report.mapping.state, 'mapped');
      assert.deepEqual(events[0]?.previous, 'unknown');
      assert.equal(node.stats().reachability.reachability, 'mapped');
      assert.equal(node.stats().maintenance.readOnly, false);
      assert.deepEqual(calls, [`map ${node.address().port}`]);
    } finally {
      await net.close();
    }
    assert.deepEqual(calls.at(-1), `unmap ${node.address().port}`, 'close deletes the mapping');
  });

  it('without a dial-back (the extension dropped) is not mapped until an unsolicited query arrives through the mapping', async () => {
    const calls: string[] = [];
    const { net, node } = await setUp({ portMapping: 'upnp', portMapper: fakeMapper(true, calls) });
    // every nautilus_reach is lost (as when contacts do not serve the extension), and a NAT in
    // front of the node lets in only hosts it sent to within the last minute, until `forwarding`
    const host = node.address().host;
    const lastSent = new Map<string, number>();
    let forwarding = false;
    net.network.setDropFilter((packet) => {
      if (Buffer.from(packet.data).toString('latin1').includes('nautilus_reach')) return true;
      if (packet.from.host === host) {
        lastSent.set(packet.to.host, net.clock.now());
        return false;
      }
      if (packet.to.host !== host || forwarding) return false;
      const at = lastSent.get(packet.from.host);
      return at === undefined || net.clock.now() - at > MINUTE;
    });
    try {
      await net.clock.advanceAsync(30_000);
      assert.equal(node.reachability().mapping.state, 'mapped');
      assert.notEqual(node.reachability().reachability, 'mapped');
      // the router forwards now; a node that this one never sent to queries it and gets in
      forwarding = true;
      const stranger = await createNode({ transport: net.network.createTransport(), clock: net.clock, bootstrap: [] });
      net.nodes.push(stranger);
      await net.run(stranger.ping(node.address()));
      assert.equal(node.reachability().reachability, 'mapped');
      assert.equal(node.reachability().verifiedBy, 'unsolicited');
    } finally {
      await net.close();
    }
  });

  it('with a refusing router reports a failed mapping and is not mapped', async () => {
    const calls: string[] = [];
    const { net, node } = await setUp({ portMapping: 'auto', portMapper: fakeMapper(false, calls) });
    try {
      await net.clock.advanceAsync(1000);
      const { mapping, reachability } = node.reachability();
      assert.ok(mapping.state === 'failed' && mapping.reason === 'PORT_MAPPING_FAILED');
      assert.notEqual(reachability, 'mapped');
      assert.equal(calls.length, 2, 'NAT-PMP, then UPnP');
    } finally {
      await net.close();
    }
  });
});

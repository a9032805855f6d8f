import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { encodePeer } from '../../../../src/kad/wire/compact.js';
import { ExternalAddressVote } from '../../../../src/kad/routing/external-address.js';
import { decodeMessage, encodeMessage } from '../../../../src/kad/wire/krpc.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';
import { drive } from '../../../helpers/virtual-time.js';
import { dict, nodeId } from '../rpc/rpc-harness.js';

const at = (host: string, port = 6881): Uint8Array => encodePeer({ host, port });

describe('ExternalAddressVote', () => {
  it('knows nothing before the first report, then takes it', () => {
    const vote = new ExternalAddressVote(4);
    assert.equal(vote.current(), undefined);
    vote.record('10.0.0.1', at('198.51.100.7', 4000));
    assert.deepEqual(vote.current(), { host: '198.51.100.7', port: 4000, family: 4 });
  });

  it('follows the majority of distinct responders', () => {
    const vote = new ExternalAddressVote(4);
    vote.record('10.0.0.1', at('203.0.113.66'));
    for (const voter of ['10.0.0.2', '10.0.0.3']) vote.record(voter, at('198.51.100.7'));
    assert.equal(vote.current()?.host, '198.51.100.7');
  });

  it('counts one responder once, however often it reports', () => {
    const vote = new ExternalAddressVote(4);
    for (const voter of ['10.0.0.2', '10.0.0.3']) vote.record(voter, at('198.51.100.7'));
    for (let i = 0; i < 10; i++) vote.record('10.0.0.1', at('203.0.113.66'));
    assert.equal(vote.current()?.host, '198.51.100.7');
    assert.equal(vote.voters, 3);
  });

  it('keeps the current winner on a tie', () => {
    const vote = new ExternalAddressVote(4);
    vote.record('10.0.0.1', at('198.51.100.7'));
    vote.record('10.0.0.2', at('203.0.113.66'));
    assert.equal(vote.current()?.host, '198.51.100.7');
  });

  it('moves with a responder that changes its report, and reports the latest port', () => {
    const vote = new ExternalAddressVote(4);
    vote.record('10.0.0.1', at('198.51.100.7', 1));
    vote.record('10.0.0.1', at('198.51.100.7', 2));
    assert.equal(vote.current()?.port, 2);
    vote.record('10.0.0.1', at('203.0.113.66', 3));
    assert.deepEqual(vote.current(), { host: '203.0.113.66', port: 3, family: 4 });
  });

  it('remembers at most maxVoters responders, forgetting the one heard from longest ago', () => {
    const vote = new ExternalAddressVote(4, { maxVoters: 3 });
    for (let i = 1; i <= 3; i++) vote.record(`10.0.0.${i}`, at('203.0.113.66'));
    for (let i = 4; i <= 6; i++) vote.record(`10.0.0.${i}`, at('198.51.100.7'));
    assert.equal(vote.voters, 3);
    assert.equal(vote.current()?.host, '198.51.100.7'); // the old address lost every vote
    for (let i = 7; i <= 1000; i++) vote.record(`10.0.${i >> 8}.${i & 0xff}`, at('198.51.100.7'));
    assert.equal(vote.voters, 3);
  });

  it('rejects a maxVoters that is not a positive integer, naming it', () => {
    assert.throws(() => new ExternalAddressVote(4, { maxVoters: 0 }), {
      code: 'INVALID_OPTION',
      message: /^maxVoters/,
    });
  });

  it('ignores reports of the other family and malformed bytes', () => {
    const vote = new ExternalAddressVote(6);
    vote.record('fd00::1', at('198.51.100.7'));
    vote.record('fd00::1', new Uint8Array(7));
    assert.equal(vote.current(), undefined);
    vote.record('fd00::1', at('2001:db8::7'));
    assert.deepEqual(vote.current(), { host: '2001:db8::7', port: 6881, family: 6 });
  });
});

describe('KadNode.externalAddress (BEP 42)', () => {
  const nodes: KadNode[] = [];
  let network: MemoryNetwork | undefined;
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await network?.close();
  });

  function world() {
    const clock = new ManualClock();
    network = new MemoryNetwork({ latencyMs: 5 }, { clock });
    const net = network;
    const spawn = async (family: 4 | 6 = 4, dual = false): Promise<KadNode> => {
      const node = await createNode({
        transport: net.createTransport({ family }),
        ...(dual ? { transport6: net.createTransport({ family: 6 }) } : {}),
        clock,
      });
      nodes.push(node);
      return node;
    };
    /** A node that answers every query with `ip` set to `reported`. */
    const liar = (reported: string) => {
      const transport = net.createTransport();
      transport.on('message', ({ data, from }) => {
        const query = decodeMessage(data);
        const reply = { y: 'r' as const, t: query.t, r: dict({ id: nodeId(0x66) }), ip: at(reported, 1) };
        transport.send(encodeMessage(reply), from);
      });
      return transport.address();
    };
    return { clock, spawn, liar };
  }

  it('is undefined until a responder reported our address, then the address it saw', async () => {
    const w = world();
    const [a, b] = [await w.spawn(), await w.spawn()];
    assert.equal(a.externalAddress(), undefined);
    await drive(w.clock, a.ping(b.address()));
    assert.deepEqual(a.externalAddress(), a.address());
    assert.equal(a.externalAddress(6), undefined);
  });

  it('takes the majority over distinct responders, not a single liar', async () => {
    const w = world();
    const a = await w.spawn();
    const honest = [await w.spawn(), await w.spawn()];
    await drive(w.clock, a.ping(w.liar('203.0.113.66')));
    assert.equal(a.externalAddress()?.host, '203.0.113.66');
    for (const peer of honest) await drive(w.clock, a.ping(peer.address()));
    assert.deepEqual(a.externalAddress(), a.address());
  });

  it('learns one address per family on a dual-stack node, and keeps its id', async () => {
    const w = world();
    const dual = await w.spawn(4, true);
    const id = Uint8Array.from(dual.id);
    const [p4, p6] = [await w.spawn(4), await w.spawn(6)];
    await drive(w.clock, dual.ping(p6.address()));
    assert.equal(dual.externalAddress(4), undefined);
    assert.deepEqual(dual.externalAddress(6), dual.addresses()[1]);
    await drive(w.clock, dual.ping(p4.address()));
    assert.deepEqual(dual.externalAddress(), dual.address());
    assert.deepEqual(dual.id, id);
  });
});

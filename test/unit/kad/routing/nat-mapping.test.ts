import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NatMappingVote } from '../../../../src/kad/routing/nat-mapping.js';
import { encodePeer } from '../../../../src/kad/wire/compact.js';

const seen = (host: string, port: number): Uint8Array => encodePeer({ host, port });

describe('NatMappingVote', () => {
  it('is unknown until two responders reported the same address', () => {
    const vote = new NatMappingVote(4);
    assert.equal(vote.behaviour(), 'unknown');
    vote.record('198.51.100.2', seen('198.51.100.1', 6881));
    vote.record('198.51.100.2', seen('198.51.100.1', 6881));
    assert.equal(vote.behaviour(), 'unknown');
  });

  it('is endpoint-independent when distinct responders saw one port', () => {
    const vote = new NatMappingVote(4);
    vote.record('198.51.100.2', seen('198.51.100.1', 6881));
    vote.record('198.51.100.3', seen('198.51.100.1', 6881));
    assert.equal(vote.behaviour(), 'endpoint-independent');
  });

  it('is address-dependent when distinct responders saw different ports of one address', () => {
    const vote = new NatMappingVote(4);
    vote.record('198.51.100.2', seen('198.51.100.1', 40001));
    vote.record('198.51.100.3', seen('198.51.100.1', 40002));
    assert.equal(vote.behaviour(), 'address-dependent');
  });

  it('follows a NAT rebinding once the recent reports agree again', () => {
    const vote = new NatMappingVote(4);
    vote.record('198.51.100.2', seen('198.51.100.1', 6881));
    vote.record('198.51.100.3', seen('198.51.100.1', 6881));
    for (const voter of ['198.51.100.4', '198.51.100.5', '198.51.100.6', '198.51.100.7']) {
      vote.record(voter, seen('198.51.100.1', 7000));
    }
    assert.equal(vote.behaviour(), 'endpoint-independent');
  });

  it('ignores reports of the other family and malformed ones', () => {
    const vote = new NatMappingVote(4);
    vote.record('198.51.100.2', new Uint8Array(18));
    vote.record('198.51.100.3', new Uint8Array(3));
    assert.equal(vote.behaviour(), 'unknown');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WRITE_TOKEN_BYTES, WriteTokens } from '../../../../src/kad/serve/tokens.js';
import { ManualClock } from '../../../../src/testing/index.js';

const FIVE_MINUTES = 5 * 60_000;

describe('WriteTokens', () => {
  it('issues a 20-byte token that is valid now for the same IP', () => {
    const tokens = new WriteTokens({}, { clock: new ManualClock() });
    const token = tokens.issue('10.0.0.1');
    assert.equal(token.length, WRITE_TOKEN_BYTES);
    assert.equal(tokens.verify('10.0.0.1', token), true);
  });

  it('rejects a token presented by another IP', () => {
    const tokens = new WriteTokens({}, { clock: new ManualClock() });
    const token = tokens.issue('10.0.0.1');
    assert.equal(tokens.verify('10.0.0.2', token), false);
    assert.equal(tokens.verify('::1', token), false);
  });

  it('still accepts a token after one rotation of the secret', () => {
    const clock = new ManualClock();
    const tokens = new WriteTokens({}, { clock });
    const token = tokens.issue('10.0.0.1');
    clock.advance(FIVE_MINUTES);
    assert.equal(tokens.verify('10.0.0.1', token), true);
    assert.notDeepEqual(tokens.issue('10.0.0.1'), token);
  });

  it('rejects a token after two rotations of the secret', () => {
    const clock = new ManualClock();
    const tokens = new WriteTokens({}, { clock });
    const token = tokens.issue('10.0.0.1');
    clock.advance(FIVE_MINUTES);
    assert.equal(tokens.verify('10.0.0.1', token), true);
    clock.advance(FIVE_MINUTES);
    assert.equal(tokens.verify('10.0.0.1', token), false);
  });

  it('rejects every old token after a long idle time, even without calls in between', () => {
    const clock = new ManualClock();
    const tokens = new WriteTokens({}, { clock });
    const token = tokens.issue('10.0.0.1');
    clock.advance(2 * FIVE_MINUTES);
    assert.equal(tokens.verify('10.0.0.1', token), false);
  });

  it('treats an IPv4-mapped IPv6 address as the IPv4 address', () => {
    const tokens = new WriteTokens({}, { clock: new ManualClock() });
    assert.equal(tokens.verify('::ffff:10.0.0.1', tokens.issue('10.0.0.1')), true);
  });

  it('rejects tokens of the wrong length without throwing', () => {
    const tokens = new WriteTokens({}, { clock: new ManualClock() });
    assert.equal(tokens.verify('10.0.0.1', new Uint8Array(0)), false);
    assert.equal(tokens.verify('10.0.0.1', tokens.issue('10.0.0.1').subarray(0, 8)), false);
  });

  it('validates rotateMs and names it in the message', () => {
    assert.throws(() => new WriteTokens({ rotateMs: 0 }), /rotateMs/);
  });
});

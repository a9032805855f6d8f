import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError, KadError, toWireError, WireError } from '../../../src/kad/errors.js';

describe('KadError', () => {
  it('carries a string code, a name and an ES2022 cause', () => {
    const cause = new Error('inner');
    const error = KadError.invalidMessage('bad bytes', cause);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'KadError');
    assert.equal(error.code, 'INVALID_MESSAGE');
    assert.equal(error.cause, cause);
    assert.ok(isKadError(error, 'INVALID_MESSAGE'));
    assert.ok(!isKadError(error, 'TIMEOUT'));
    assert.ok(!isKadError(new Error('x')));
  });

  it('maps protocol failures to the wire numbers of BEP 5 and BEP 44', () => {
    assert.equal(KadError.invalidMessage('x').wireCode, 203);
    assert.equal(KadError.invalidToken().wireCode, 203);
    assert.equal(KadError.methodUnknown('foo').wireCode, 204);
    assert.equal(KadError.messageTooBig(1001, 1000).wireCode, 205);
    assert.equal(KadError.invalidSignature().wireCode, 206);
    assert.equal(KadError.saltTooBig(65, 64).wireCode, 207);
    assert.equal(KadError.casMismatch(1, 2).wireCode, 301);
    assert.equal(KadError.seqTooLow(1, 2).wireCode, 302);
    assert.equal(KadError.timeout().wireCode, undefined);
  });

  it('answer the BEP texts for 301 and 302 without numbers, 201 for an insecure id, 202 for a corrupt item', () => {
    assert.deepEqual(toWireError(KadError.casMismatch()), [
      301,
      'the CAS hash mismatched, re-read value and try again',
    ]);
    assert.deepEqual(toWireError(KadError.seqTooLow()), [302, 'sequence number less than current']);
    assert.deepEqual(toWireError(KadError.insecureId()), [201, 'node id does not match the IP (BEP 42): not stored']);
    assert.equal(KadError.insecureId().code, 'INVALID_ID');
    const corrupt = KadError.corruptItem('stored item value is not bencoded');
    assert.equal(corrupt.code, 'CORRUPT_ITEM');
    assert.deepEqual(toWireError(corrupt), [202, 'server error']);
  });

  it('keep the transaction id of a malformed query, to answer 203', () => {
    const error = KadError.invalidQuery('"a" must be a dictionary', Uint8Array.of(1, 2));
    assert.equal(error.code, 'INVALID_MESSAGE');
    assert.deepEqual(error.transactionId, Uint8Array.of(1, 2));
  });

  it('keeps the number a remote node answered with', () => {
    const error = KadError.remote(WireError.SeqTooLow, 'sequence number less than current');
    assert.equal(error.code, 'REMOTE_ERROR');
    assert.equal(error.wireCode, 302);
  });

  it('turns errors into wire replies without leaking internal details', () => {
    assert.deepEqual(toWireError(KadError.invalidMessage('missing "id"')), [203, 'missing "id"']);
    assert.deepEqual(toWireError(new TypeError('secret internals')), [202, 'server error']);
    assert.deepEqual(toWireError(KadError.remote(201, 'x')), [202, 'server error']);
    assert.deepEqual(toWireError(KadError.timeout()), [202, 'server error']);
  });

  it('numbers the wire errors as the BEPs do', () => {
    assert.deepEqual(
      [
        WireError.Generic,
        WireError.Server,
        WireError.Protocol,
        WireError.MethodUnknown,
        WireError.MessageTooBig,
        WireError.InvalidSignature,
        WireError.SaltTooBig,
        WireError.CasMismatch,
        WireError.SeqTooLow,
      ],
      [201, 202, 203, 204, 205, 206, 207, 301, 302],
    );
  });
});

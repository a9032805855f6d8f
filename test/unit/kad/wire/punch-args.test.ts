import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import {
  readIntroduceArgs,
  readIntroduceReply,
  readPunchArgs,
  writeIntroduceArgs,
  writeIntroduceReply,
  writePunchArgs,
} from '../../../../src/kad/wire/punch-args.js';

const id = new Uint8Array(20).fill(1);
const target = new Uint8Array(20).fill(2);
const addr = { host: '198.51.100.4', port: 6881 };

describe('hole-punching arguments', () => {
  it('round-trips nautilus_introduce arguments by id, by address, with a token', () => {
    const args = { id, target, addr, token: Uint8Array.of(1, 2, 3) };
    assert.deepEqual(readIntroduceArgs(writeIntroduceArgs(args)), args);
    assert.deepEqual(readIntroduceArgs(writeIntroduceArgs({ id, target })), { id, target });
  });

  it('refuses a nautilus_introduce that names no target, or a malformed address, with INVALID_MESSAGE', () => {
    assert.throws(
      () => readIntroduceArgs({ id }),
      (e) => isKadError(e, 'INVALID_MESSAGE') && /target/.test(e.message),
    );
    assert.throws(
      () => readIntroduceArgs({ id, addr: new Uint8Array(5) }),
      (e) => isKadError(e, 'INVALID_MESSAGE'),
    );
  });

  it('round-trips an introduced reply and reads the symmetric flag', () => {
    const reply = { status: 'introduced' as const, token: Uint8Array.of(4), addr, target, symmetric: true };
    assert.deepEqual(readIntroduceReply(writeIntroduceReply(reply)), reply);
    assert.deepEqual(readIntroduceReply(writeIntroduceReply({ status: 'busy' })), { status: 'busy' });
  });

  it('refuses a reply with an unknown status, or introduced without an address', () => {
    assert.throws(
      () => readIntroduceReply({ status: new TextEncoder().encode('maybe') }),
      (e) => isKadError(e, 'INVALID_MESSAGE'),
    );
    assert.throws(
      () => readIntroduceReply({ status: new TextEncoder().encode('introduced'), target }),
      (e) => isKadError(e, 'INVALID_MESSAGE') && /addr/.test(e.message),
    );
  });

  it('round-trips nautilus_punch arguments', () => {
    const args = { id, addr, peer: target };
    assert.deepEqual(readPunchArgs(writePunchArgs(args)), args);
  });
});

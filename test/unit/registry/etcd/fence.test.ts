import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkFence } from '../../../../src/registry/etcd/fence.js';
import { isRegistryError } from '../../../../src/registry/index.js';

// the lock and election prefixes of a registry with keyPrefix 'app:' (as EtcdRegistry builds them)
const NAMESPACES = ['\u0000locks/app:', '\u0000elections/app:'];

function refused(fence: unknown): void {
  assert.throws(
    () => checkFence(fence, NAMESPACES),
    (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && /^fence must be the fence of a lock/.test(e.message),
    JSON.stringify(fence),
  );
}

describe('EtcdRegistry fence check', () => {
  it("accepts the fence of a lock or an election of the registry's namespace, names with slashes too", () => {
    checkFence({ entry: '\u0000locks/app:jobs/7587883474658712345', token: '42' }, NAMESPACES);
    checkFence({ entry: '\u0000elections/app:a/b/c/1', token: '9' }, NAMESPACES);
  });

  it('refuses a fence that is not an object with string entry and token', () => {
    for (const fence of [null, 'token', 42, {}, { entry: '\u0000locks/app:jobs/1' }, { token: '1' }]) refused(fence);
    refused({ entry: '\u0000locks/app:jobs/1', token: 1 });
  });

  it('refuses a token that is not a positive decimal revision', () => {
    for (const token of ['0', '-1', '01', '1.5', 'abc', '', '12345678901234567890']) {
      refused({ entry: '\u0000locks/app:jobs/1', token });
    }
  });

  it("refuses an entry outside the registry's lock and election namespaces", () => {
    refused({ entry: 'a/b', token: '5' });
    refused({ entry: 'app:record/5', token: '5' });
    refused({ entry: '\u0000locks/other:jobs/1', token: '5' });
  });

  it('refuses an entry without a name, or without a lease id after its last slash', () => {
    refused({ entry: '\u0000locks/app:/1', token: '5' });
    refused({ entry: '\u0000locks/app:jobs', token: '5' });
    refused({ entry: '\u0000locks/app:jobs/', token: '5' });
    refused({ entry: '\u0000locks/app:jobs/x1', token: '5' });
  });
});

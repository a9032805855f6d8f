import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';
import { closeRightAfterCalls } from '../../helpers/redis-close-calls.js';

// close() called in the same tick as calls issued just before it: every call reports what Redis
// really did (a write that landed resolves), whether the server still has the scripts cached or
// lost them (SCRIPT FLUSH, as after a restart: the NOSCRIPT retry must still go out).
describe('RedisRegistry.close() right after calls of the same tick', () => {
  let server: RedisServerHandle;
  let namespaces = 0;

  before(async () => {
    server = await startRedisServer();
  });

  after(async () => {
    await server?.stop();
  });

  const connect = (keyPrefix: string): Promise<RedisRegistry> => RedisRegistry.connect({ url: server.url, keyPrefix });

  it('resolves every call issued before close with what Redis did, with a warm script cache', async () => {
    await closeRightAfterCalls(connect, `close:${namespaces++}:`, async () => {});
  });

  it('resolves every call issued before close with what Redis did, after the server lost its scripts', async () => {
    await closeRightAfterCalls(connect, `close:${namespaces++}:`, async () => {
      assert.equal(await server.command('SCRIPT', 'FLUSH'), 'OK');
    });
  });
});

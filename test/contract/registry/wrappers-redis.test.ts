import { after, before } from 'node:test';
import { generateEd25519KeyPair } from '../../../src/core/ed25519.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { SignedRegistry } from '../../../src/registry/signed/signed-registry.js';
import { TieredRegistry } from '../../../src/registry/tiered/tiered-registry.js';
import { registryConformanceSuite, type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

let server: RedisServerHandle;
let namespaces = 0;
const keyPair = generateEd25519KeyPair();

before(async () => {
  server = await startRedisServer();
});

after(async () => {
  await server?.stop();
});

const redis = (clock: Parameters<Parameters<typeof registryConformanceSuite>[1]['create']>[0]['clock']) =>
  RedisRegistry.connect(
    // the manual clock runs ahead of the server's: Redis must not expire keys before the registry does
    { url: server.url, keyPrefix: `wrappers:${namespaces++}:`, expiryGraceMs: 600_000 },
    { clock },
  );

// capacity is Redis's (none): the suite's capacity cases do not apply, as for RedisRegistry itself
registryConformanceSuite('TieredRegistry (memory over Redis)', {
  capacity: false,
  create: async ({ clock }) => new TieredRegistry({ far: await redis(clock) }, { clock }),
});

registryConformanceSuite('SignedRegistry over Redis', {
  capacity: false,
  create: async ({ clock }) => new SignedRegistry(await redis(clock), { keyPair }),
});

import { generateEd25519KeyPair } from '../../../src/core/ed25519.js';
import { MemoryRegistry } from '../../../src/registry/index.js';
import { SignedRegistry } from '../../../src/registry/signed/signed-registry.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

const keyPair = generateEd25519KeyPair();

// capacity is the backend's, counted on the stored envelope (105 bytes more than the value):
// the suite's byte limits do not carry over, so its capacity cases do not run here
registryConformanceSuite('SignedRegistry over MemoryRegistry', {
  create: ({ clock, limits }) => new SignedRegistry(new MemoryRegistry(limits, { clock }), { keyPair }),
  capacity: false,
});

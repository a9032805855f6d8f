import { bytesCodec, CodecRegistry, MemoryRegistry } from '../../../src/registry/index.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

// the typed view holds to the same contract as the backend under it: its own checks (signal,
// shape, key, before it encodes) come in the same order
registryConformanceSuite('CodecRegistry (bytes) over MemoryRegistry', {
  create: ({ clock, limits }) => new CodecRegistry(new MemoryRegistry(limits, { clock }), bytesCodec),
});

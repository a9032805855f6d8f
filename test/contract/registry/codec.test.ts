import { bytesCodec, CodecRegistry, MemoryRegistry, type Registry } from '../../../src/registry/index.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

const HISTORY = 64;

// the typed view holds to the same contract as the backend under it: its own checks (signal,
// shape, key, before it encodes) come in the same order, and its feed is the backend's, decoded
registryConformanceSuite('CodecRegistry (bytes) over MemoryRegistry', {
  create: ({ clock, limits }) =>
    new CodecRegistry(new MemoryRegistry({ ...limits, changeHistory: HISTORY }, { clock }), bytesCodec),
  watch: {
    retained: HISTORY,
    compact: async (registry: Registry) => {
      for (let i = 0; i < HISTORY; i++) await registry.set('compaction-filler', new Uint8Array(0));
    },
  },
});

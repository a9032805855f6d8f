import { MemoryRegistry } from '../../../src/registry/index.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

const HISTORY = 64;

registryConformanceSuite('MemoryRegistry', {
  create: ({ clock, limits }) => new MemoryRegistry({ ...limits, changeHistory: HISTORY }, { clock }),
  watch: {
    retained: HISTORY,
    // the history holds the last HISTORY changes: that many more push out every earlier one
    compact: async (registry) => {
      for (let i = 0; i < HISTORY; i++) await registry.set('compaction-filler', new Uint8Array(0));
    },
  },
});

import { MemoryRegistry } from '../../../src/registry/index.js';
import { TieredRegistry } from '../../../src/registry/tiered/tiered-registry.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

// a near hit is not a use of the far tier's LRU: the suite's eviction-order cases do not hold, so
// its capacity cases do not run here (capacity is the far tier's, tested with it)
registryConformanceSuite('TieredRegistry (memory over memory)', {
  create: ({ clock, limits }) => new TieredRegistry({ far: new MemoryRegistry(limits, { clock }) }, { clock }),
  capacity: false,
});

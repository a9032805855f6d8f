import { MemoryRegistry } from '../../../src/registry/index.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

registryConformanceSuite('MemoryRegistry', {
  create: ({ clock, limits }) => new MemoryRegistry(limits, { clock }),
});

export type { ConformanceLimits, ConformanceOptions } from './conformance.js';
export { registryConformanceSuite } from './conformance.js';
export { ManualClock } from './manual-clock.js';
export type { Fault, FaultOperation, FaultRegistryDeps } from './fault-registry.js';
export { FAULT_OPERATIONS, FaultRegistry } from './fault-registry.js';

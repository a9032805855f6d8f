export type { ConformanceLimits, ConformanceOptions } from './conformance.js';
export { registryConformanceSuite } from './conformance.js';
export { ManualClock } from './manual-clock.js';

export type { Clock, Milliseconds, Timer } from '../registry/clock.js';
export { systemClock } from '../registry/clock.js';

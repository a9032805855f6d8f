import { describe } from '../core/describe.js';
import { KadError } from './errors.js';

/**
 * Validation of constructor options for the transport, rate-limit, RTT and RPC modules. Each
 * returns `fallback` for `undefined` and throws `INVALID_OPTION`, naming the option, otherwise.
 * @internal
 */

/** A finite number > 0 (a duration or a rate). */
export function positiveNumber(name: string, value: unknown, fallback: number, unit = ''): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw KadError.invalidOption(`${name} must be a positive number${unit} (got ${describe(value)})`);
  }
  return value;
}

/** A number > 0, `Infinity` allowed (a bound that may be off). */
export function positiveOrInfinite(name: string, value: unknown, fallback: number, unit = ''): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  return positiveNumber(name, value, fallback, `${unit} or Infinity`);
}

/** A number > 0 per second, `Infinity` allowed (a rate that may be unlimited). */
export function positiveRate(name: string, value: unknown, fallback: number): number {
  return positiveOrInfinite(name, value, fallback, ' per second');
}

/** A safe integer >= `min`. */
export function integerAtLeast(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw KadError.invalidOption(`${name} must be an integer >= ${min} (got ${describe(value)})`);
  }
  return value;
}

/** A boolean. */
export function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw KadError.invalidOption(`${name} must be a boolean (got ${describe(value)})`);
  return value;
}

/** A number in `[0, 1]`. */
export function probability(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw KadError.invalidOption(`${name} must be a number in [0, 1] (got ${describe(value)})`);
  }
  return value;
}

/**
 * The reason an aborted `signal` carries: a `DOMException` named `AbortError` (or `TimeoutError`)
 * unless the aborter passed its own. Per the house conventions an abort rejects with it as is.
 */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason as Error;
}

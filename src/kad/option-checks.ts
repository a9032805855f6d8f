import { describe } from '../core/describe.js';
import { KadError } from './errors.js';

/**
 * The one way KAD code checks a constructor or call option. Every failure is a
 * {@link KadError} `INVALID_OPTION` whose message has one form, `"<option> must be <what>
 * (got <value>)"` (the registry's `validation.ts` uses the same form for `RegistryError`). The
 * typed checks return `fallback` for `undefined` and the value otherwise.
 * @internal
 */

/**
 * The `INVALID_OPTION` error for `name`: `"<name> must be <expected> (got <value>)"`, or without
 * the `(got …)` part when no value is given (a rule between options).
 */
export function optionError(name: string, expected: string, ...got: [value: unknown] | []): KadError {
  const tail = got.length === 0 ? '' : ` (got ${describe(got[0])})`;
  return KadError.invalidOption(`${name} must be ${expected}${tail}`);
}

/** An optional BEP 44 sequence number: a safe integer >= 0, or a `bigint` in 0..2^63 − 1. */
export function seqOption(name: string, value: unknown): number | bigint | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number'
      ? Number.isSafeInteger(value) && value >= 0
      : typeof value === 'bigint' && value >= 0n && value < 2n ** 63n;
  if (!ok) throw optionError(name, 'an integer in 0..2^63 - 1 (a bigint beyond 2^53 - 1)', value);
  return value as number | bigint;
}

/** A finite number > 0 (a duration or a rate). */
export function positiveNumber(name: string, value: unknown, fallback: number, unit = ''): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw optionError(name, `a positive number${unit}`, value);
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
    throw optionError(name, `an integer >= ${min}`, value);
  }
  return value;
}

/** A safe integer in `[min, max]`. */
export function integerInRange(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw optionError(name, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/** A number in `[0, 1]`. */
export function probability(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw optionError(name, 'a number in [0, 1]', value);
  }
  return value;
}

/** A boolean. */
export function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw optionError(name, 'a boolean', value);
  return value;
}

/**
 * An injected collaborator: an object with a `method` function, the cheapest sign that it
 * implements `contract`.
 */
export function implementing(name: string, value: unknown, contract: string, method: string): void {
  if (typeof value !== 'object' || value === null || typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw optionError(name, `a ${contract} (an object with ${method}())`, value);
  }
}

/**
 * The reason an aborted `signal` carries: a `DOMException` named `AbortError` (or `TimeoutError`)
 * unless the aborter passed its own. Per the house conventions an abort rejects with it as is.
 */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason as Error;
}

import type { Registry } from '../registry/registry.js';
import { isRegistryError } from '../registry/errors.js';

/** Receives one timing per registry call. */
export type RegistryObserver = (operation: string, seconds: number, outcome: string) => void;

const METERED = new Set(['get', 'has', 'set', 'delete', 'touch', 'getMany', 'setMany', 'deleteMany', 'size', 'clear']);

/**
 * `registry` with every awaited operation timed and reported to `observe` (its outcome `ok` or
 * the `RegistryError` code); `scan`, events and `close` pass through untouched.
 */
export function meteredRegistry<V>(registry: Registry<V>, observe: RegistryObserver): Registry<V> {
  return new Proxy(registry, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof property !== 'string' || !METERED.has(property)) {
        // the backends keep private fields: their methods run on the backend itself
        return (...args: unknown[]) => {
          const result: unknown = method.apply(target, args);
          return result === target ? (receiver as unknown) : result;
        };
      }
      return async (...args: unknown[]) => {
        const start = process.hrtime.bigint();
        try {
          const result = await (method.apply(target, args) as Promise<unknown>);
          observe(property, seconds(start), 'ok');
          return result;
        } catch (error) {
          observe(property, seconds(start), isRegistryError(error) ? error.code : 'OTHER');
          throw error;
        }
      };
    },
  });
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

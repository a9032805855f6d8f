import type { Listener } from '../core/emitter.js';
import { RegistryError } from './errors.js';
import { checkKey, checkRecordShape, checkShape, checkSignal } from './validation.js';
import type { RegistryEvents } from './events.js';
import type { Milliseconds } from '../core/clock.js';
import type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryChange,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  ScanOptions,
  SetEntry,
  SetOptions,
  WatchOptions,
} from './registry.js';

/** Turns values of type `V` into bytes and back. */
export interface Codec<V> {
  /** A short name for messages, e.g. `json`. */
  readonly name: string;
  /** Throws a `RegistryError` with code `INVALID_VALUE` for a value it cannot encode. */
  encode(value: V): Uint8Array;
  /** Throws on bytes it cannot decode; the registry reports that as `CODEC_ERROR`. */
  decode(bytes: Uint8Array): V;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON text in UTF-8. Only values that JSON reads back as they were are accepted: `null`,
 * booleans, finite numbers, strings, dense arrays and plain objects (prototype `Object.prototype`
 * or `null`) of those, without cycles. Anything else — `undefined`, `NaN`, `Infinity`, BigInt,
 * functions, symbols, `Map`, `Set`, `Date`, class instances, array holes, properties set to
 * `undefined` or keyed by a symbol — rejects with `INVALID_VALUE` naming where it is, instead of
 * being stored as something else (`null`, `{}`, a string, nothing). `-0` is stored as `0`.
 */
export const jsonCodec: Codec<unknown> = Object.freeze({
  name: 'json',
  encode(value: unknown): Uint8Array {
    let problem: string | undefined;
    try {
      problem = jsonProblem(value, 'the value', new Set());
    } catch (cause) {
      // a structure nested too deep for the stack: JSON.stringify would fail on it too
      throw RegistryError.invalidValue(`not JSON-serializable: ${(cause as Error).message}`, { cause });
    }
    if (problem !== undefined) throw RegistryError.invalidValue(`JSON cannot store it as it is: ${problem}`);
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (cause) {
      throw RegistryError.invalidValue(`not JSON-serializable: ${(cause as Error).message}`, { cause });
    }
    if (text === undefined) throw RegistryError.invalidValue(`not JSON-serializable: ${typeof value}`);
    return encoder.encode(text);
  },
  decode: (bytes: Uint8Array): unknown => JSON.parse(decoder.decode(bytes)),
});

/**
 * Why `value` would not come back from `JSON.parse(JSON.stringify(value))` as it is, or
 * `undefined` when it would. `path` names it in the answer; `ancestors` are the objects it is
 * nested in (a cycle is a problem).
 */
function jsonProblem(value: unknown, path: string, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value} (JSON has no such number)`;
    case 'object':
      break;
    default:
      return `${path} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`;
  }
  if (value === null) return undefined;
  if (ancestors.has(value)) return `${path} refers back to an object it is part of`;
  const proto: unknown = Object.getPrototypeOf(value);
  const isArray = Array.isArray(value);
  if (isArray ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return `${path} is a ${typeof name === 'string' && name !== '' ? name : 'non-plain object'}`;
  }
  ancestors.add(value);
  try {
    if (isArray) {
      const array = value as unknown[];
      for (let i = 0; i < array.length; i++) {
        if (!(i in array)) return `${path}[${i}] is a hole`;
        const problem = jsonProblem(array[i], `${path}[${i}]`, ancestors);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    if (Object.getOwnPropertySymbols(value).some((key) => Object.prototype.propertyIsEnumerable.call(value, key))) {
      return `${path} has a property keyed by a symbol`;
    }
    for (const key of Object.keys(value)) {
      const problem = jsonProblem((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}

/** UTF-8 strings: well-formed ones only (a lone surrogate has no UTF-8 form: `INVALID_VALUE`). */
export const stringCodec: Codec<string> = Object.freeze({
  name: 'string',
  encode(value: string): Uint8Array {
    if (typeof value !== 'string') throw RegistryError.invalidValue(`expected a string, got ${typeof value}`);
    if (!value.isWellFormed()) {
      throw RegistryError.invalidValue('the string has a lone surrogate (it would read back as U+FFFD)');
    }
    return encoder.encode(value);
  },
  decode: (bytes: Uint8Array): string => decoder.decode(bytes),
});

/** Raw bytes, passed through unchanged. */
export const bytesCodec: Codec<Uint8Array> = Object.freeze({
  name: 'bytes',
  encode(value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) throw RegistryError.invalidValue('expected a Uint8Array');
    return value;
  },
  decode: (bytes: Uint8Array): Uint8Array => bytes,
});

// the backend knows its maxKeyBytes: the codec checks the rest of a key before it encodes
const ANY_LENGTH = Number.POSITIVE_INFINITY;

/**
 * A typed view of a byte registry: values are encoded with `codec` on the way in and decoded on
 * the way out. Everything else, events included, is the backend's. A write checks its arguments
 * in the order every backend does — signal, shape, key, then value — before it encodes: an
 * aborted call rejects with `signal.reason` and a bad key with `INVALID_KEY` whatever the value
 * (the key's length, like `CLOSED`, is the backend's to check, after encoding).
 *
 * @example
 * const users = new CodecRegistry<User>(new MemoryRegistry(), jsonCodec as Codec<User>);
 */
export class CodecRegistry<V> implements Registry<V> {
  readonly #backend: Registry<Uint8Array>;
  readonly #codec: Codec<V>;

  /**
   * Present only when the backend has `restore`: encodes the value and restores the record
   * through the backend (see {@link Registry.restore}).
   */
  declare readonly restore?: (record: RegistryRecord<V>, options?: RestoreOptions) => Promise<RestoreResult>;

  /**
   * Present only when the backend has `watch`: the backend's feed with each written value
   * decoded (a value the codec cannot decode rejects the loop with `CODEC_ERROR`; watch again
   * after that change's cursor to go on).
   */
  declare readonly watch?: (options?: WatchOptions) => AsyncIterableIterator<RegistryChange<V>>;
  /** Present only when the backend has `cursor` (with `watch`): the backend's. */
  declare readonly cursor?: (options?: OperationOptions) => Promise<string>;

  constructor(backend: Registry<Uint8Array>, codec: Codec<V>) {
    this.#backend = backend;
    this.#codec = codec;
    if (typeof backend.watch === 'function' && typeof backend.cursor === 'function') {
      const watch = backend.watch.bind(backend);
      const decode = (record: RegistryRecord<Uint8Array>): RegistryRecord<V> => this.#decode(record);
      Object.defineProperty(this, 'watch', {
        value: async function* (options?: WatchOptions): AsyncIterableIterator<RegistryChange<V>> {
          for await (const change of watch(options)) {
            yield change.type === 'set' ? { ...change, record: decode(change.record) } : change;
          }
        },
      });
      Object.defineProperty(this, 'cursor', { value: backend.cursor.bind(backend) });
    }
    if (typeof backend.restore === 'function') {
      const restore = backend.restore.bind(backend);
      Object.defineProperty(this, 'restore', {
        value: async (record: RegistryRecord<V>, options?: RestoreOptions): Promise<RestoreResult> => {
          checkSignal(options?.signal);
          checkRecordShape(record);
          checkKey(record.key, ANY_LENGTH);
          return restore({ ...record, value: this.#encode(record.key, record.value) }, options);
        },
      });
    }
  }

  /** The byte registry underneath. */
  get backend(): Registry<Uint8Array> {
    return this.#backend;
  }

  async get(key: string, options?: OperationOptions): Promise<RegistryRecord<V> | undefined> {
    const record = await this.#backend.get(key, options);
    return record === undefined ? undefined : this.#decode(record);
  }

  has(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#backend.has(key, options);
  }

  async set(key: string, value: V, options?: SetOptions): Promise<RegistryRecord<V>> {
    checkSignal(options?.signal);
    checkKey(key, ANY_LENGTH);
    const record = await this.#backend.set(key, this.#encode(key, value), options);
    return { ...record, value };
  }

  delete(key: string, options?: DeleteOptions): Promise<boolean> {
    return this.#backend.delete(key, options);
  }

  touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    return this.#backend.touch(key, ttlMs, options);
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord<V> | undefined)[]> {
    const records = await this.#backend.getMany(keys, options);
    return records.map((r) => (r === undefined ? undefined : this.#decode(r)));
  }

  async setMany(entries: readonly SetEntry<V>[], options?: OperationOptions): Promise<RegistryRecord<V>[]> {
    checkSignal(options?.signal);
    checkShape('entries', entries);
    for (const entry of entries) checkKey(entry.key, ANY_LENGTH);
    const encoded = entries.map((e) => ({ ...e, value: this.#encode(e.key, e.value) }));
    const records = await this.#backend.setMany(encoded, options);
    return records.map((r, i) => ({ ...r, value: (entries[i] as SetEntry<V>).value }));
  }

  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    return this.#backend.deleteMany(keys, options);
  }

  async *scan(options?: ScanOptions): AsyncIterableIterator<RegistryRecord<V>> {
    for await (const record of this.#backend.scan(options)) yield this.#decode(record);
  }

  size(options?: OperationOptions): Promise<number> {
    return this.#backend.size(options);
  }

  clear(options?: OperationOptions): Promise<void> {
    return this.#backend.clear(options);
  }

  close(options?: OperationOptions): Promise<void> {
    return this.#backend.close(options);
  }

  on<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this {
    this.#backend.on(event, listener);
    return this;
  }

  off<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this {
    this.#backend.off(event, listener);
    return this;
  }

  #encode(key: string, value: V): Uint8Array {
    try {
      return this.#codec.encode(value);
    } catch (cause) {
      if (cause instanceof RegistryError) {
        throw new RegistryError(cause.code, cause.message, { key, cause: cause.cause });
      }
      throw RegistryError.invalidValue(`${this.#codec.name} codec cannot encode: ${String(cause)}`, { key, cause });
    }
  }

  #decode(record: RegistryRecord<Uint8Array>): RegistryRecord<V> {
    let value: V;
    try {
      value = this.#codec.decode(record.value);
    } catch (cause) {
      throw RegistryError.codec(
        `${this.#codec.name} codec cannot decode the value of "${record.key}"`,
        record.key,
        cause,
      );
    }
    return { ...record, value };
  }
}

import { createHash } from 'node:crypto';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../errors.js';
import { ForwardingRegistry } from '../forwarding-registry.js';
import type { RecordRemovedEvent } from '../events.js';
import type {
  OperationOptions,
  Registry,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  DeleteOptions,
  SetEntry,
  SetOptions,
} from '../registry.js';
import { checkOptionsObject, rejectUnknownOptions, stringOption } from '../validation.js';
import type { AuditEvent, AuditOperation } from './chain.js';
import type { AuditSink } from './sink.js';

/** Who makes a change: every audited call takes one. */
export interface ActorOption {
  /** Recorded as the entry's `actor`. @default the registry's `actor` */
  readonly actor?: string | undefined;
}

/** Options of an `AuditedRegistry`. */
export interface AuditedRegistryOptions {
  /** Where the entries go (a `FileAuditSink`, a `RegistryAuditSink`). */
  readonly sink: AuditSink;
  /** The actor of calls that name none. @default 'registry' */
  readonly actor?: string | undefined;
  /** Time of the entries. @default systemClock */
  readonly clock?: Clock | undefined;
  /** Close the sink with the registry. @default true */
  readonly closeSink?: boolean | undefined;
}

/** The defaults of {@link AuditedRegistryOptions}. */
export const DEFAULT_AUDITED_REGISTRY_OPTIONS = Object.freeze({ actor: 'registry', closeSink: true });

// refusals of a change the backend made (the call was well-formed): logged with their outcome
const LOGGED_FAILURES = new Set([
  'VERSION_CONFLICT',
  'VERSION_EXHAUSTED',
  'CAPACITY_EXCEEDED',
  'BACKEND_UNAVAILABLE',
  'TIMEOUT',
]);

/**
 * Every change that goes through it is appended to a tamper-evident audit log (see
 * `AuditEntry`): sequence number, time, actor, operation, key, version before and after,
 * SHA-256 of the value, outcome and the hash of the entry before. A change is acknowledged
 * (its call resolves) only after its entry is recorded as the sink promises; when the sink
 * fails the call rejects `AUDIT_FAILED` — the backend may then hold the change, as after a
 * timeout — and every later change rejects `AUDIT_FAILED` before touching the backend, so
 * the log never skips one. Reads pass through unlogged.
 *
 * `versionBefore` of a write is its version − 1 (versions rise by one per write); of a delete,
 * the version the backend's `record:removed` event reported (`null` if it gave none).
 */
export class AuditedRegistry extends ForwardingRegistry {
  readonly #sink: AuditSink;
  readonly #actor: string;
  readonly #clock: Clock;
  readonly #closeSink: boolean;
  /** Versions of keys removed while a delete through this wrapper was in flight. */
  readonly #removed = new Map<string, number>();
  #deleting = 0;
  readonly #onRemoved = (event: RecordRemovedEvent): void => {
    if (this.#deleting > 0 && event.reason === 'delete') this.#removed.set(event.key, event.version);
  };

  /** Present only when the backend has `restore`; a written restore is logged as `restore`. */
  declare readonly restore?: (record: RegistryRecord, options?: RestoreOptions & ActorOption) => Promise<RestoreResult>;

  constructor(backend: Registry<Uint8Array>, options: AuditedRegistryOptions) {
    super(backend);
    checkOptionsObject('AuditedRegistry', options);
    rejectUnknownOptions('AuditedRegistry', options, ['sink', 'actor', 'clock', 'closeSink']);
    const { sink } = options;
    if (typeof sink !== 'object' || sink === null || typeof sink.append !== 'function') {
      throw RegistryError.invalidOptionValue('sink', 'an AuditSink', sink);
    }
    this.#sink = sink;
    this.#actor = stringOption('actor', options.actor, DEFAULT_AUDITED_REGISTRY_OPTIONS.actor);
    this.#clock = options.clock ?? systemClock;
    this.#closeSink = options.closeSink ?? DEFAULT_AUDITED_REGISTRY_OPTIONS.closeSink;
    backend.on('record:removed', this.#onRemoved);
    if (typeof backend.restore === 'function') {
      const restore = backend.restore.bind(backend);
      Object.defineProperty(this, 'restore', {
        value: (record: RegistryRecord, o?: RestoreOptions & ActorOption) =>
          this.#change(
            o,
            () => restore(record, strip(o)),
            (result) =>
              result === 'written'
                ? [this.#event(o, 'restore', record.key, null, record.version, digest(record.value))]
                : [],
          ),
      });
    }
  }

  /** Records a signed checkpoint of the chain head now (besides the periodic ones). */
  checkpoint(): Promise<void> {
    return this.#sink.checkpoint(this.#clock.now());
  }

  override set(key: string, value: Uint8Array, options?: SetOptions & ActorOption): Promise<RegistryRecord> {
    return this.#change(
      options,
      () => this.inner.set(key, value, strip(options)),
      (r) => [this.#event(options, 'set', key, r.version - 1, r.version, digest(value))],
      () => this.#event(options, 'set', key, null, null, value instanceof Uint8Array ? digest(value) : null),
    );
  }

  override async delete(key: string, options?: DeleteOptions & ActorOption): Promise<boolean> {
    const removed = await this.#deletes(options, async () => [
      (await this.inner.delete(key, strip(options))) ? 1 : 0,
      [key],
    ]);
    return removed > 0;
  }

  override touch(key: string, ttlMs: Milliseconds, options?: OperationOptions & ActorOption): Promise<boolean> {
    return this.#change(
      options,
      () => this.inner.touch(key, ttlMs, strip(options)),
      (touched) => (touched ? [this.#event(options, 'touch', key, null, null, null)] : []),
    );
  }

  override setMany(entries: readonly SetEntry[], options?: OperationOptions & ActorOption): Promise<RegistryRecord[]> {
    return this.#change(
      options,
      () => this.inner.setMany(entries, strip(options)),
      (records) =>
        records.map((r, i) =>
          this.#event(options, 'set', r.key, r.version - 1, r.version, digest((entries[i] as SetEntry).value)),
        ),
    );
  }

  override deleteMany(keys: readonly string[], options?: OperationOptions & ActorOption): Promise<number> {
    return this.#deletes(options, async () => [await this.inner.deleteMany(keys, strip(options)), keys]);
  }

  override clear(options?: OperationOptions & ActorOption): Promise<void> {
    return this.#change(
      options,
      () => this.inner.clear(strip(options)),
      () => [this.#event(options, 'clear', null, null, null, null)],
    );
  }

  /** Closes the backend, then the sink (unless `closeSink` is false). */
  override async close(options?: OperationOptions): Promise<void> {
    this.inner.off('record:removed', this.#onRemoved);
    try {
      await this.inner.close(options);
    } finally {
      if (this.#closeSink) await this.#sink.close();
    }
  }

  /** A delete or deleteMany: one entry per removed key, its version from the removal event. */
  async #deletes(options: ActorOption | undefined, run: () => Promise<[number, readonly string[]]>): Promise<number> {
    const { count } = await this.#change(
      options,
      async () => {
        this.#deleting++;
        try {
          const [count, keys] = await run();
          const versions = keys.map((k) => this.#removed.get(k));
          for (const k of keys) this.#removed.delete(k);
          return { count, keys, versions };
        } finally {
          this.#deleting--;
          if (this.#deleting === 0) this.#removed.clear();
        }
      },
      ({ count, keys, versions }) => {
        const confirmed = keys.filter((_, i) => versions[i] !== undefined);
        // a backend that fired no events: log the keys asked for, versions unknown
        const removed = confirmed.length === count ? confirmed : [...new Set(keys)].slice(0, count);
        return removed.map((key) => {
          const version = versions[keys.indexOf(key)] ?? null;
          return this.#event(options, 'delete', key, version, 0, null);
        });
      },
    );
    return count;
  }

  /**
   * Runs a change and records it: refused at once when the sink has failed; the entries of a
   * change that resolved are recorded before it is acknowledged; a refusal the backend made is
   * logged (best effort) and rethrown.
   */
  async #change<T>(
    options: ActorOption | undefined,
    run: () => Promise<T>,
    entries: (result: T) => AuditEvent[],
    failed?: () => AuditEvent,
  ): Promise<T> {
    const failure = this.#sink.failure;
    if (failure !== undefined) throw failure;
    let result: T;
    try {
      result = await run();
    } catch (error) {
      if (failed !== undefined && isRegistryError(error) && LOGGED_FAILURES.has(error.code)) {
        await this.#sink.append([{ ...failed(), outcome: `error:${error.code}` }]).catch(() => undefined);
      }
      throw error;
    }
    const events = entries(result);
    if (events.length > 0) await this.#sink.append(events);
    return result;
  }

  #event(
    options: ActorOption | undefined,
    op: AuditOperation,
    key: string | null,
    versionBefore: number | null,
    versionAfter: number | null,
    valueSha256: string | null,
  ): AuditEvent {
    const actor = options?.actor ?? this.#actor;
    return { time: this.#clock.now(), actor, op, key, versionBefore, versionAfter, valueSha256, outcome: 'ok' };
  }
}

function digest(value: Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

/** The options without `actor`, for the backend. */
function strip<O extends ActorOption>(options: O | undefined): Omit<O, 'actor'> | undefined {
  if (options === undefined || !('actor' in options)) return options;
  const { actor: _actor, ...rest } = options;
  return rest;
}

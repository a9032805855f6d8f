import type { Seq } from '../../core/bep44-signature.js';
import { signEd25519, verifyEd25519 } from '../../core/ed25519.js';
import type { Milliseconds } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../errors.js';
import { ForwardingRegistry } from '../forwarding-registry.js';
import type {
  ScanOptions,
  OperationOptions,
  Registry,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  SetEntry,
} from '../registry.js';
import {
  checkBytes,
  checkKey,
  checkRecordShape,
  checkRestoreMeta,
  checkShape,
  checkSignal,
  checkTtl,
  checkVersion,
  utf8Length,
} from '../validation.js';
import {
  checkSeq,
  encodeEnvelope,
  hex,
  type OpenedEnvelope,
  openEnvelope,
  type SignedItem,
  signedMessage,
} from './envelope.js';
import {
  type ResolvedSignedOptions,
  resolveSignedOptions,
  type Signer,
  signerOf,
  type SignedRegistryOptions,
  type SignedSetOptions,
} from './options.js';

/** Options of {@link SignedRegistry.setMany}. */
export interface SignedBatchOptions extends OperationOptions {
  /** Sign every entry with this key pair instead of the registry's. */
  readonly keyPair?: SignedSetOptions['keyPair'];
}

/** Options of {@link SignedRegistry.importItem}. */
export interface ImportItemOptions extends OperationOptions {
  /** Time to live of the stored record, ms. Without it the record does not expire. */
  readonly ttlMs?: Milliseconds | undefined;
  /** Compare-and-set on the registry version, as in `set`. */
  readonly ifVersion?: number | undefined;
}

/** A verified record with its signature as a BEP 44 item. */
export interface SignedRecord {
  readonly record: RegistryRecord;
  /** The item to publish: `node.put(item)` (or `putMutable` with the same key pair, seq and salt). */
  readonly item: SignedItem;
}

// a key's length is the backend's to check (after ours): see CodecRegistry
const ANY_LENGTH = Number.POSITIVE_INFINITY;
/** BEP 44: a salt of at most 64 bytes, a bencoded `v` of at most 1000. */
const MAX_SALT_BYTES = 64;
const MAX_BENCODED_VALUE_BYTES = 1000;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** What a write stores under a key, given the record there now (verified), or to keep it. */
type Plan = { readonly envelope: Uint8Array } | { readonly keep: true };

/**
 * Records signed with ed25519, over any {@link Registry}. Every write signs the value with the
 * writer's key pair and stores the public key, the signature and a BEP 44 sequence number with
 * it; every read verifies, and a record whose bytes were changed behind the registry's back
 * rejects with `INVALID_SIGNATURE` (never returned unverified, never skipped).
 *
 * - Ownership: the first writer of a key owns it. A write with another key pair rejects
 *   `NOT_OWNER` until the record is deleted or expires; each write takes a `seq` above the
 *   stored one (`SEQUENCE_TOO_LOW` otherwise), like BEP 44.
 * - Format: the signature covers exactly what BEP 44 signs, with `salt` = the key in UTF-8 and
 *   `v` = the value as a byte string, so {@link getSigned} gives an item `node.put()` publishes
 *   unchanged and {@link importItem} stores an item from the DHT without re-signing.
 * - Not covered: the TTL (`expiresAt`), the registry `version` and times, and whether a record
 *   exists (a delete needs no key). Put a deadline in the value to sign it.
 *
 * Versions, TTL, compare-and-set and events are the backend's; a write costs one read and one
 * compare-and-set of the backend.
 */
export class SignedRegistry extends ForwardingRegistry {
  readonly #options: ResolvedSignedOptions;

  /**
   * Present only when the backend has `restore`: signs the record's value with the registry's
   * key pair, `seq` = the record's version, and restores it through the backend.
   */
  declare readonly restore?: (record: RegistryRecord, options?: RestoreOptions) => Promise<RestoreResult>;

  /** @throws {RegistryError} `INVALID_OPTION` for options out of range or a key pair that does not match. */
  constructor(backend: Registry<Uint8Array>, options: SignedRegistryOptions = {}) {
    super(backend);
    this.#options = resolveSignedOptions(options);
    if (typeof backend.restore === 'function') {
      const restore = backend.restore.bind(backend);
      Object.defineProperty(this, 'restore', {
        value: (record: RegistryRecord, restoreOptions?: RestoreOptions) =>
          this.#restore(restore, record, restoreOptions),
      });
    }
  }

  /** The public key writes are signed with by default, or `undefined` without a key pair. */
  get publicKey(): Uint8Array | undefined {
    return this.#options.signer?.publicKey.slice();
  }

  /** The verified record under `key`. @throws {RegistryError} `INVALID_SIGNATURE` for a tampered record. */
  override async get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    const stored = await this.inner.get(key, options);
    return stored === undefined ? undefined : opened(stored, openEnvelope(key, stored.value));
  }

  /** The verified record under `key` with its signature as a BEP 44 item, or `undefined`. */
  async getSigned(key: string, options?: OperationOptions): Promise<SignedRecord | undefined> {
    const stored = await this.inner.get(key, options);
    if (stored === undefined) return undefined;
    const envelope = openEnvelope(key, stored.value);
    const { k, sig, seq, value } = envelope;
    const item = { v: value.slice(), k: k.slice(), sig: sig.slice(), seq, salt: new TextEncoder().encode(key) };
    return { record: opened(stored, envelope), item };
  }

  /** Whether a record exists under `key` (not verified: use `get` for that). */

  /**
   * Signs `value` and writes it. Checks, before anything is stored: the key pair owns `key` (or
   * nobody does), `seq` is above the stored one, and the stored record verifies.
   * @throws {RegistryError} `NOT_OWNER`, `SEQUENCE_TOO_LOW`, `INVALID_SIGNATURE`, `VERSION_CONFLICT`,
   *   `INVALID_OPTION` when no key pair is given or set, and whatever the backend rejects with.
   */
  override async set(key: string, value: Uint8Array, options: SignedSetOptions = {}): Promise<RegistryRecord> {
    checkSignal(options.signal);
    this.#checkWrite(key, value, options.ttlMs);
    if (options.ifVersion !== undefined) checkVersion(options.ifVersion);
    if (options.seq !== undefined) checkSeq('seq', options.seq);
    const signer = this.#signer(options.keyPair);
    const wanted = options.seq;
    return this.#write(key, value, options, (stored) => {
      if (stored !== undefined) checkOwner(key, stored, signer.publicHex);
      const seq = wanted ?? (stored === undefined ? 1 : nextSeq(key, stored.seq));
      if (stored !== undefined && seq <= stored.seq) throw RegistryError.sequenceTooLow(key, seq, stored.seq);
      return { envelope: sealed(signer, key, seq, value) };
    });
  }

  /**
   * Stores a BEP 44 mutable item (from the DHT, say) as the signed record under the key its
   * salt names, without re-signing. Its `v` must be a byte string and its salt non-empty UTF-8.
   * An item equal to the stored one (same seq and signature) changes nothing.
   * @throws {RegistryError} `INVALID_SIGNATURE` when it does not verify; `NOT_OWNER`;
   *   `SEQUENCE_TOO_LOW` for a seq not above the stored one; `INVALID_KEY` / `INVALID_VALUE`.
   */
  async importItem(item: SignedItem, options: ImportItemOptions = {}): Promise<RegistryRecord> {
    checkSignal(options.signal);
    if (typeof item !== 'object' || item === null) throw RegistryError.invalidOptionValue('item', 'an object', item);
    const key = saltKey(item.salt);
    if (!(item.v instanceof Uint8Array)) throw RegistryError.invalidValue('v must be a byte string', { key });
    this.#checkWrite(key, item.v, options.ttlMs);
    if (options.ifVersion !== undefined) checkVersion(options.ifVersion);
    checkSeq('item.seq', item.seq);
    const { k, sig, seq, v } = item;
    if (!verifyEd25519(k, signedMessage(key, seq, v), sig)) {
      throw RegistryError.invalidSignature(key, 'the item does not verify for its key, salt, seq and value');
    }
    const owner = hex(k);
    return this.#write(key, v, options, (stored) => {
      if (stored === undefined) return { envelope: encodeEnvelope(k, sig, seq, v) };
      checkOwner(key, stored, owner);
      if (seq === stored.seq && hex(sig) === hex(stored.sig)) return { keep: true };
      if (seq <= stored.seq) throw RegistryError.sequenceTooLow(key, seq, stored.seq);
      return { envelope: encodeEnvelope(k, sig, seq, v) };
    });
  }

  /** The verified records under `keys`. @throws {RegistryError} `INVALID_SIGNATURE` if any is tampered. */
  override async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    const stored = await this.inner.getMany(keys, options);
    return stored.map((r) => (r === undefined ? undefined : opened(r, openEnvelope(r.key, r.value))));
  }

  /**
   * Signs and writes every entry in one backend batch. Ownership and `seq` are checked against
   * one read of the batch's keys: unlike `set`, a write of the same key by another process
   * between that read and the batch is not detected.
   */
  override async setMany(entries: readonly SetEntry[], options: SignedBatchOptions = {}): Promise<RegistryRecord[]> {
    checkSignal(options.signal);
    checkShape('entries', entries);
    for (const entry of entries) checkKey(entry.key, ANY_LENGTH);
    for (const entry of entries) checkBytes(entry.key, entry.value, ANY_LENGTH);
    for (const entry of entries) if (entry.ttlMs !== undefined) checkTtl(entry.ttlMs);
    for (const entry of entries) this.#checkLimits(entry.key, entry.value);
    const signer = this.#signer(options.keyPair);
    if (entries.length === 0) return this.inner.setMany([], options);
    const keys = [...new Set(entries.map((e) => e.key))];
    const stored = await this.inner.getMany(keys, options);
    const seqs = new Map<string, Seq>();
    keys.forEach((key, i) => {
      const record = stored[i];
      if (record === undefined) return;
      const envelope = openEnvelope(key, record.value);
      checkOwner(key, envelope, signer.publicHex);
      seqs.set(key, envelope.seq);
    });
    const sealedEntries = entries.map((entry) => {
      const previous = seqs.get(entry.key);
      const seq = previous === undefined ? 1 : nextSeq(entry.key, previous);
      seqs.set(entry.key, seq);
      const envelope = sealed(signer, entry.key, seq, entry.value);
      return entry.ttlMs === undefined
        ? { key: entry.key, value: envelope }
        : { key: entry.key, value: envelope, ttlMs: entry.ttlMs };
    });
    const records = await this.inner.setMany(sealedEntries, options);
    return records.map((r, i) => ({ ...r, value: (entries[i] as SetEntry).value }));
  }

  /** Every live record, verified; a tampered one ends the scan with `INVALID_SIGNATURE`. */
  override async *scan(options?: ScanOptions): AsyncIterableIterator<RegistryRecord> {
    for await (const r of this.inner.scan(options)) yield opened(r, openEnvelope(r.key, r.value));
  }

  /**
   * Reads the stored record, lets `plan` decide (it throws to refuse), and writes with
   * compare-and-set on the version read, so ownership and `seq` hold however writes interleave.
   * A conflict the caller did not ask for (no `ifVersion`) reads again, up to `maxWriteRetries`.
   */
  async #write(
    key: string,
    value: Uint8Array,
    options: { signal?: AbortSignal | undefined; ttlMs?: number | undefined; ifVersion?: number | undefined },
    plan: (stored: OpenedEnvelope | undefined) => Plan,
  ): Promise<RegistryRecord> {
    const { signal, ttlMs, ifVersion } = options;
    for (let attempt = 0; ; attempt++) {
      const stored = await this.inner.get(key, { signal });
      const envelope = stored === undefined ? undefined : openEnvelope(key, stored.value);
      const next = plan(envelope);
      if ('keep' in next && stored !== undefined && envelope !== undefined) return opened(stored, envelope);
      if (!('envelope' in next)) throw new Error('unreachable: a plan keeps only a stored record');
      try {
        const record = await this.inner.set(key, next.envelope, {
          signal,
          ttlMs,
          ifVersion: ifVersion ?? stored?.version ?? 0,
        });
        return { ...record, value };
      } catch (error) {
        const retry = ifVersion === undefined && attempt < this.#options.maxWriteRetries;
        if (!retry || !isRegistryError(error, 'VERSION_CONFLICT')) throw error;
      }
    }
  }

  async #restore(
    restore: NonNullable<Registry['restore']>,
    record: RegistryRecord,
    options: RestoreOptions | undefined,
  ): Promise<RestoreResult> {
    checkSignal(options?.signal);
    checkRecordShape(record);
    checkKey(record.key, ANY_LENGTH);
    checkBytes(record.key, record.value, ANY_LENGTH);
    checkRestoreMeta(record, options?.ifNewer);
    this.#checkLimits(record.key, record.value);
    const signer = this.#signer(undefined);
    const stored = await this.inner.get(record.key, { signal: options?.signal });
    if (stored !== undefined) checkOwner(record.key, openEnvelope(record.key, stored.value), signer.publicHex);
    const envelope = sealed(signer, record.key, record.version, record.value);
    return restore({ ...record, value: envelope }, options);
  }

  #checkWrite(key: string, value: Uint8Array, ttlMs: unknown): void {
    checkKey(key, ANY_LENGTH);
    checkBytes(key, value, ANY_LENGTH);
    if (ttlMs !== undefined) checkTtl(ttlMs);
    this.#checkLimits(key, value);
  }

  #checkLimits(key: string, value: Uint8Array): void {
    if (!this.#options.bep44Limits) return;
    if (utf8Length(key) > MAX_SALT_BYTES) {
      throw RegistryError.invalidKey(`longer than ${MAX_SALT_BYTES} bytes, the BEP 44 salt limit (bep44Limits)`, key);
    }
    const bencoded = String(value.length).length + 1 + value.length;
    if (bencoded > MAX_BENCODED_VALUE_BYTES) {
      throw RegistryError.valueTooLarge(key, bencoded, MAX_BENCODED_VALUE_BYTES);
    }
  }

  #signer(keyPair: SignedSetOptions['keyPair']): Signer {
    if (keyPair !== undefined) return signerOf('keyPair', keyPair);
    const signer = this.#options.signer;
    if (signer === undefined) {
      throw RegistryError.invalidOption('keyPair is required to write: the SignedRegistry has none');
    }
    return signer;
  }
}

function opened(stored: RegistryRecord, envelope: OpenedEnvelope): RegistryRecord {
  return { ...stored, value: envelope.value };
}

function sealed(signer: Signer, key: string, seq: Seq, value: Uint8Array): Uint8Array {
  const sig = signEd25519(signer.privateKey, signedMessage(key, seq, value));
  return encodeEnvelope(signer.publicKey, sig, seq, value);
}

function checkOwner(key: string, stored: OpenedEnvelope, writer: string): void {
  const owner = hex(stored.k);
  if (owner !== writer) throw RegistryError.notOwner(key, owner);
}

function nextSeq(key: string, seq: Seq): Seq {
  if (typeof seq === 'number' && seq < Number.MAX_SAFE_INTEGER) return seq + 1;
  const next = BigInt(seq) + 1n;
  if (next > 2n ** 63n - 1n) throw RegistryError.sequenceTooLow(key, next, seq);
  return next;
}

function saltKey(salt: unknown): string {
  if (!(salt instanceof Uint8Array) || salt.length === 0) {
    throw RegistryError.invalidKey('the item has no salt: its salt is the record key');
  }
  try {
    return decoder.decode(salt);
  } catch (cause) {
    throw new RegistryError('INVALID_KEY', 'invalid key: the item salt is not UTF-8', { cause });
  }
}

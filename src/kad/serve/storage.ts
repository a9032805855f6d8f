import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../../registry/errors.js';
import type { Registry, RegistryRecord } from '../../registry/registry.js';
import { KadError } from '../errors.js';
import { bytesEqual, idToHex } from '../id.js';
import { implementing, integerAtLeast } from '../option-checks.js';

/** Configuration of a {@link KadStorage}. */
export interface KadStorageOptions {
  /**
   * How long an announced peer is kept after its last `announce_peer`, in ms.
   * @default 1_800_000 (30 minutes)
   * @see BEP 5
   */
  readonly peerTtlMs?: Milliseconds;
  /**
   * How long a BEP 44 item is kept after its last `put`, in ms.
   * @default 7_200_000 (2 hours)
   * @see BEP 44 "Expiration"
   */
  readonly itemTtlMs?: Milliseconds;
  /**
   * Most peers remembered per info-hash; beyond it the peer whose announcement is oldest goes.
   * One record holds them all, so this also bounds that record (27 bytes per IPv6 peer).
   * @default 200
   */
  readonly maxPeersPerInfoHash?: number;
}

/** Injected collaborators of a {@link KadStorage}. */
export interface KadStorageDeps {
  /**
   * Where peers and items live: any registry (memory, Redis, sharded), bounded as its owner
   * chooses. Shared, not owned: whoever created it closes it (a node closes the in-memory
   * registry it made by default, never an injected one).
   */
  readonly registry: Registry<Uint8Array>;
  /** Source of time for expiry. @default systemClock */
  readonly clock?: Clock;
}

/** Defaults of {@link KadStorageOptions}. */
export const DEFAULT_KAD_STORAGE_OPTIONS = Object.freeze({
  peerTtlMs: 30 * 60_000,
  itemTtlMs: 2 * 60 * 60_000,
  maxPeersPerInfoHash: 200,
} satisfies Required<KadStorageOptions>);

/** A stored BEP 44 item. `v` is the bencoded value, exactly as it was put. */
export type StoredItem = StoredImmutableItem | StoredMutableItem;

/** An immutable item: its target is SHA-1 of `v`. */
export interface StoredImmutableItem {
  readonly mutable: false;
  /** The bencoded value (at most 1000 bytes). */
  readonly v: Uint8Array;
}

/** A mutable item: its target is SHA-1 of `k` ‖ `salt`; `sig` signs salt, seq and v. */
export interface StoredMutableItem {
  readonly mutable: true;
  /** The bencoded value (at most 1000 bytes). */
  readonly v: Uint8Array;
  /** ed25519 public key, 32 bytes. */
  readonly k: Uint8Array;
  /** ed25519 signature, 64 bytes. */
  readonly sig: Uint8Array;
  /** Sequence number (a safe integer). */
  readonly seq: number;
  /** Salt, 0–64 bytes (empty when none). */
  readonly salt: Uint8Array;
}

/**
 * Outcome of a mutable put, checked against what is stored (BEP 44):
 * `stored` (new or higher seq), `refreshed` (same seq and value: timeout reset),
 * `cas-mismatch` (301), `seq-too-low` (302: lower seq, or same seq with another value).
 */
export type MutablePutResult = 'stored' | 'refreshed' | 'cas-mismatch' | 'seq-too-low';

/** Options of {@link KadStorage.getPeers}. */
export interface GetPeersOptions {
  /** Only peers of this family: 4 (6-byte compact peers) or 6 (18-byte). */
  readonly family: 4 | 6;
  /** Most peers returned; a random subset when more are known. */
  readonly max: number;
}

const PEER_PREFIX = 'peers:';
const ITEM_PREFIX = 'item:';
const MAX_WRITE_ATTEMPTS = 4;
const ENTRY_TAIL = 8; // float64 deadline after each compact peer

/**
 * The peers (`announce_peer`) and BEP 44 items (`put`) a node stores for others, kept in a
 * {@link Registry} so the same code runs on memory or Redis. All peers of one info-hash form one
 * record (`peers:<hex>`), so `get_peers` costs one registry read, and one item is one record
 * (`item:<hex>`). Read-modify-writes use the registry's `ifVersion` compare-and-set, so
 * concurrent writers (even other processes on a shared Redis) never lose an update.
 */
export class KadStorage {
  readonly #registry: Registry<Uint8Array>;
  readonly #clock: Clock;
  readonly #peerTtlMs: Milliseconds;
  readonly #itemTtlMs: Milliseconds;
  readonly #maxPeers: number;

  /** @throws {KadError} `INVALID_OPTION` naming the option. */
  constructor(options: KadStorageOptions = {}, deps: KadStorageDeps) {
    const d = DEFAULT_KAD_STORAGE_OPTIONS;
    this.#peerTtlMs = integerAtLeast('peerTtlMs', options.peerTtlMs, d.peerTtlMs, 1);
    this.#itemTtlMs = integerAtLeast('itemTtlMs', options.itemTtlMs, d.itemTtlMs, 1);
    this.#maxPeers = integerAtLeast('maxPeersPerInfoHash', options.maxPeersPerInfoHash, d.maxPeersPerInfoHash, 1);
    implementing('registry', deps?.registry, 'Registry', 'get');
    this.#registry = deps.registry;
    this.#clock = deps.clock ?? systemClock;
  }

  /** The registry holding the data. */
  get registry(): Registry<Uint8Array> {
    return this.#registry;
  }

  /**
   * Records that `peer` (a compact peer: 6 bytes for IPv4, 18 for IPv6) serves `infoHash`, for
   * `peerTtlMs` from now. Announcing again renews it.
   */
  async announcePeer(
    infoHash: Uint8Array,
    peer: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<void> {
    if (peer.length !== 6 && peer.length !== 18)
      throw KadError.invalidAddress('peer must be a 6- or 18-byte compact peer');
    const key = PEER_PREFIX + idToHex(infoHash);
    await this.#update(key, options.signal, (record) => {
      const now = this.#clock.now();
      const kept = decodePeers(record?.value).filter((p) => p.expiresAt > now && !bytesEqual(p.peer, peer));
      kept.push({ peer: Uint8Array.from(peer), expiresAt: now + this.#peerTtlMs });
      // oldest announcements first, so trimming keeps the freshest
      kept.sort((a, b) => a.expiresAt - b.expiresAt);
      const live = kept.slice(Math.max(0, kept.length - this.#maxPeers));
      return { value: encodePeers(live), ttlMs: this.#peerTtlMs };
    });
  }

  /** Up to `max` live peers of `family` for `infoHash` (a random subset when more are known). */
  async getPeers(
    infoHash: Uint8Array,
    options: GetPeersOptions & { signal?: AbortSignal | undefined },
  ): Promise<Uint8Array[]> {
    const record = await this.#registry.get(PEER_PREFIX + idToHex(infoHash), { signal: options.signal });
    if (record === undefined) return [];
    const now = this.#clock.now();
    const size = options.family === 4 ? 6 : 18;
    const peers = decodePeers(record.value)
      .filter((p) => p.expiresAt > now && p.peer.length === size)
      .map((p) => p.peer);
    return sample(peers, options.max);
  }

  /**
   * The item stored under `target`, if any.
   * @throws {RegistryError} `CODEC_ERROR` when the stored record is corrupt (a shared backend),
   *   besides the registry's own failures.
   */
  async getItem(
    target: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<StoredItem | undefined> {
    const key = ITEM_PREFIX + idToHex(target);
    const record = await this.#registry.get(key, { signal: options.signal });
    if (record === undefined) return undefined;
    const item = decodeItem(record.value);
    if (item === undefined) throw RegistryError.codec('stored item record is corrupt', key);
    return item;
  }

  /**
   * Stores an immutable item (the caller has checked that `target` = SHA-1(`v`)); putting it again
   * renews its `itemTtlMs`. Resolves `refreshed` when it was already stored.
   */
  async putImmutable(
    target: Uint8Array,
    v: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<'stored' | 'refreshed'> {
    const key = ITEM_PREFIX + idToHex(target);
    const record = await this.#registry.get(key, { signal: options.signal });
    await this.#registry.set(key, encodeItem({ mutable: false, v }), {
      ttlMs: this.#itemTtlMs,
      signal: options.signal,
    });
    return record === undefined ? 'stored' : 'refreshed';
  }

  /**
   * Stores a mutable item whose signature the caller has verified, enforcing BEP 44 ordering:
   * with `cas`, the stored seq must equal it (else `cas-mismatch`); a lower seq, or the same seq
   * with another value, is `seq-too-low`; the same seq and value renews the timeout (`refreshed`).
   */
  async putMutable(
    target: Uint8Array,
    item: Omit<StoredMutableItem, 'mutable'>,
    options: { cas?: number | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<MutablePutResult> {
    let result: MutablePutResult = 'stored';
    await this.#update(ITEM_PREFIX + idToHex(target), options.signal, (record) => {
      const stored = record === undefined ? undefined : decodeItem(record.value);
      if (stored?.mutable === true) {
        if (options.cas !== undefined && stored.seq !== options.cas) return void (result = 'cas-mismatch');
        if (item.seq < stored.seq) return void (result = 'seq-too-low');
        if (item.seq === stored.seq) {
          if (!bytesEqual(item.v, stored.v)) return void (result = 'seq-too-low');
          result = 'refreshed';
        } else result = 'stored';
      } else result = 'stored';
      return { value: encodeItem({ mutable: true, ...item }), ttlMs: this.#itemTtlMs };
    });
    return result;
  }

  /** Number of records held (peer lists and items). */
  async size(options: { signal?: AbortSignal | undefined } = {}): Promise<number> {
    return this.#registry.size({ signal: options.signal });
  }

  /**
   * Compare-and-set loop: `change` sees the current record and returns the new value, or
   * `undefined` to leave it as is. Retries when another writer got in between.
   */
  async #update(
    key: string,
    signal: AbortSignal | undefined,
    change: (record: RegistryRecord<Uint8Array> | undefined) => { value: Uint8Array; ttlMs: Milliseconds } | undefined,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const record = await this.#registry.get(key, { signal });
      const next = change(record);
      if (next === undefined) return;
      try {
        await this.#registry.set(key, next.value, { ttlMs: next.ttlMs, ifVersion: record?.version ?? 0, signal });
        return;
      } catch (error) {
        if (!isRegistryError(error) || error.code !== 'VERSION_CONFLICT' || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      }
    }
  }
}

interface PeerEntry {
  readonly peer: Uint8Array;
  readonly expiresAt: Milliseconds;
}

/** `[length u8][compact peer][deadline float64]`… */
function encodePeers(entries: readonly PeerEntry[]): Uint8Array {
  let size = 0;
  for (const e of entries) size += 1 + e.peer.length + ENTRY_TAIL;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of entries) {
    out[at++] = e.peer.length;
    out.set(e.peer, at);
    at += e.peer.length;
    view.setFloat64(at, e.expiresAt);
    at += ENTRY_TAIL;
  }
  return out;
}

/** Tolerates corrupt bytes (a shared backend): parsing stops at the first malformed entry. */
function decodePeers(bytes: Uint8Array | undefined): PeerEntry[] {
  const out: PeerEntry[] = [];
  if (bytes === undefined) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    const length = bytes[at] ?? 0;
    if ((length !== 6 && length !== 18) || at + 1 + length + ENTRY_TAIL > bytes.length) break;
    const peer = bytes.slice(at + 1, at + 1 + length);
    out.push({ peer, expiresAt: view.getFloat64(at + 1 + length) });
    at += 1 + length + ENTRY_TAIL;
  }
  return out;
}

const KIND_IMMUTABLE = 0;
const KIND_MUTABLE = 1;
const MUTABLE_HEADER = 1 + 32 + 64 + 8 + 1; // kind, k, sig, seq, salt length

/** immutable: `[0][v]`; mutable: `[1][k 32][sig 64][seq float64][salt length u8][salt][v]`. */
function encodeItem(item: StoredItem): Uint8Array {
  if (!item.mutable) {
    const out = new Uint8Array(1 + item.v.length);
    out[0] = KIND_IMMUTABLE;
    out.set(item.v, 1);
    return out;
  }
  const out = new Uint8Array(MUTABLE_HEADER + item.salt.length + item.v.length);
  out[0] = KIND_MUTABLE;
  out.set(item.k, 1);
  out.set(item.sig, 33);
  new DataView(out.buffer).setFloat64(97, item.seq);
  out[105] = item.salt.length;
  out.set(item.salt, MUTABLE_HEADER);
  out.set(item.v, MUTABLE_HEADER + item.salt.length);
  return out;
}

function decodeItem(bytes: Uint8Array): StoredItem | undefined {
  if (bytes[0] === KIND_IMMUTABLE) return { mutable: false, v: bytes.slice(1) };
  if (bytes[0] !== KIND_MUTABLE || bytes.length < MUTABLE_HEADER) return undefined;
  const saltLength = bytes[105] ?? 0;
  if (bytes.length < MUTABLE_HEADER + saltLength) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    mutable: true,
    k: bytes.slice(1, 33),
    sig: bytes.slice(33, 97),
    seq: view.getFloat64(97),
    salt: bytes.slice(MUTABLE_HEADER, MUTABLE_HEADER + saltLength),
    v: bytes.slice(MUTABLE_HEADER + saltLength),
  };
}

/** Up to `max` elements in random order (partial Fisher–Yates on a copy). */
function sample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const copy = items.slice();
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, max);
}

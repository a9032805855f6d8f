import { RegistryError } from '../errors.js';

/*
 * Rendezvous (highest random weight) hashing for the sharded registry.
 *
 * A key is hashed once over its UTF-16 code units (no encoding, no allocation) into two 32-bit
 * lanes; each shard's score is then a cheap 3-round mix of that pair with the shard's own seed
 * pair, derived from its name. Seeds depend only on names, so adding or removing one shard never
 * changes the scores of the others: exactly the keys whose top choice changes move.
 *
 * The functions and constants below are pinned by golden vectors (test/unit/registry/
 * test/unit/registry/sharded/hrw.test.ts): changing any of them remaps stored data.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const C3 = 0x85ebca6b;
const C4 = 0xc2b2ae35;
const LANE_B_SEED = 0x9e3779b9;
const NAME_SEED = 0x5bd1e995;
const TWO_POW_53 = 9007199254740992;

// results of hashInto, kept in module scope so a lookup allocates nothing
let laneA = 0;
let laneB = 0;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, C3);
  h ^= h >>> 13;
  h = Math.imul(h, C4);
  return h ^ (h >>> 16);
}

/** Murmur3-style two-lane hash of `text`'s UTF-16 code units into `laneA` / `laneB`. */
function hashInto(text: string, seed: number): void {
  let a = seed | 0;
  let b = (seed ^ LANE_B_SEED) | 0;
  const n = text.length;
  const even = n & ~1;
  for (let i = 0; i < even; i += 2) {
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    a ^= k;
    a = (a << 13) | (a >>> 19);
    a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    // lane B takes the same word through different rotations and constants
    let j = Math.imul(k ^ (k >>> 15), C3);
    j = (j << 17) | (j >>> 15);
    b ^= j;
    b = (b << 11) | (b >>> 21);
    b = (Math.imul(b, 9) + 0x38495ab5) | 0;
  }
  if (n !== even) {
    let k = text.charCodeAt(even);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    a ^= k;
    b ^= Math.imul(k, C4);
  }
  a ^= n;
  b ^= n;
  a = (a + b) | 0;
  b = (b + a) | 0;
  a = fmix32(a);
  b = fmix32(b);
  a = (a + b) | 0;
  b = (b + a) | 0;
  laneA = a;
  laneB = b;
}

/** 53 uniform bits from a key's lanes mixed with a shard's seeds, as an integer in [0, 2^53). */
function mix53(a: number, b: number, seedA: number, seedB: number): number {
  // one finalizer per lane: lane A gives the high 32 bits, lane B (crossed with A) the low 21
  const x = fmix32(a ^ seedA);
  const y = fmix32(b ^ seedB ^ (x >>> 7));
  return (x >>> 0) * 2097152 + (y >>> 11);
}

/**
 * The 64-bit key hash used for routing, as 16 hex digits (lane A then lane B). Exposed for golden
 * vectors and debugging; routing itself never allocates it.
 */
export function keyHash(key: string): string {
  hashInto(key, 0);
  return (laneA >>> 0).toString(16).padStart(8, '0') + (laneB >>> 0).toString(16).padStart(8, '0');
}

/** One shard as the router sees it. */
export interface RouterShard {
  /** Unique, non-empty name; its hash seeds the shard's scores. */
  readonly name: string;
  /** Relative share of keys (a positive finite number). @default 1 */
  readonly weight?: number;
}

/**
 * Rendezvous (HRW) router over named, weighted shards. Scores are `-weight / ln(u)` with `u` the
 * key/shard hash mapped to (0, 1) (the logarithmic method), so a shard's expected share of keys
 * is its weight over the total weight. With equal weights the ranking by `u` is the same and the
 * logarithm is skipped.
 *
 * Cost: one pass over the key plus ~10 integer multiplies per shard; ~100 ns for 10 shards.
 * Immutable: membership changes build a new router.
 */
export class HrwRouter {
  readonly #names: readonly string[];
  readonly #weights: Float64Array;
  readonly #seedA: Int32Array;
  readonly #seedB: Int32Array;
  readonly #uniform: boolean;
  // weight classes (shards of equal weight), for the weighted fast path of `first`
  readonly #classOf: Int32Array;
  readonly #classWeight: Float64Array;
  readonly #classBest: Int32Array;
  readonly #classBits: Float64Array;
  // scratch for top-r selection, reused across calls
  readonly #scores: Float64Array;

  constructor(shards: readonly RouterShard[]) {
    const list: unknown = shards;
    if (!Array.isArray(list)) throw RegistryError.invalidOptionValue('shards', 'an array', list);
    const n = shards.length;
    this.#weights = new Float64Array(n);
    this.#seedA = new Int32Array(n);
    this.#seedB = new Int32Array(n);
    this.#scores = new Float64Array(n);
    const names: string[] = [];
    const seen = new Set<string>();
    shards.forEach((shard, i) => {
      const { name, weight = 1 } = shard;
      if (typeof name !== 'string' || name.length === 0) {
        throw RegistryError.invalidOptionValue(`shards[${i}].name`, 'a non-empty string', name);
      }
      if (seen.has(name)) throw RegistryError.invalidOption(`shards[${i}].name "${name}" is used twice`);
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
        throw RegistryError.invalidOptionValue(`shards[${i}].weight`, 'a positive finite number', weight);
      }
      seen.add(name);
      names.push(name);
      hashInto(name, NAME_SEED);
      this.#seedA[i] = laneA;
      this.#seedB[i] = laneB;
      this.#weights[i] = weight;
    });
    this.#names = names;
    this.#uniform = shards.every((s) => (s.weight ?? 1) === (shards[0]?.weight ?? 1));
    const classes = [...new Set(this.#weights)];
    this.#classOf = Int32Array.from(this.#weights, (w) => classes.indexOf(w));
    this.#classWeight = Float64Array.from(classes);
    this.#classBest = new Int32Array(classes.length);
    this.#classBits = new Float64Array(classes.length);
  }

  /** Number of shards. */
  get size(): number {
    return this.#names.length;
  }

  /** Shard names, in construction order (the index space of {@link top} and {@link order}). */
  get names(): readonly string[] {
    return this.#names;
  }

  /** Index of the shard named `name`, or -1. */
  indexOf(name: string): number {
    return this.#names.indexOf(name);
  }

  /** The weight of shard `index`. */
  weight(index: number): number {
    return this.#weights[index] ?? 0;
  }

  /** Index of the top-scoring shard for `key` (-1 when there are no shards). The hot path. */
  first(key: string): number {
    hashInto(key, 0);
    const a = laneA;
    const b = laneB;
    const n = this.#names.length;
    if (!this.#uniform) return this.#firstWeighted(a, b, n);
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < n; i++) {
      const s = this.#score(a, b, i);
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    return best;
  }

  /**
   * Writes into `out` the indices of the `r` top-scoring shards for `key` that `skip` does not
   * exclude, best first, and returns how many were written (fewer when fewer shards qualify).
   * Selection keeps a sorted window of `r` candidates: O(n·r), no sort of all n shards.
   */
  top(key: string, r: number, out: number[], skip?: (index: number) => boolean): number {
    out.length = 0;
    if (r <= 0) return 0;
    hashInto(key, 0);
    const a = laneA;
    const b = laneB;
    const n = this.#names.length;
    const scores = this.#scores;
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (skip?.(i) === true) continue;
      const s = this.#score(a, b, i);
      if (count === r && s <= (scores[out[r - 1] as number] ?? 0)) continue;
      scores[i] = s;
      // insertion into the window, dropping the last when full
      let pos = count < r ? count++ : r - 1;
      while (pos > 0 && (scores[out[pos - 1] as number] ?? 0) < s) {
        out[pos] = out[pos - 1] as number;
        pos--;
      }
      out[pos] = i;
    }
    out.length = count;
    return count;
  }

  /** Every shard index in preference order for `key` (allocates; for inspection, not hot paths). */
  order(key: string): number[] {
    const out: number[] = [];
    this.top(key, this.#names.length, out);
    return out;
  }

  /**
   * `first` with weights: within shards of equal weight the ranking is by raw bits, so only the
   * best of each weight class needs a logarithm (3 logs instead of 10 for weights 1–3).
   */
  #firstWeighted(a: number, b: number, n: number): number {
    const classBest = this.#classBest;
    const classBits = this.#classBits;
    const classOf = this.#classOf;
    const seedA = this.#seedA;
    const seedB = this.#seedB;
    const classes = classBits.length;
    for (let c = 0; c < classes; c++) classBits[c] = -1;
    for (let i = 0; i < n; i++) {
      const bits = mix53(a, b, seedA[i] as number, seedB[i] as number);
      const c = classOf[i] as number;
      if (bits > (classBits[c] as number)) {
        classBits[c] = bits;
        classBest[c] = i;
      }
    }
    let best = -1;
    let bestScore = -1;
    const classWeight = this.#classWeight;
    for (let c = 0; c < classes; c++) {
      const u = ((classBits[c] as number) + 0.5) / TWO_POW_53;
      const s = -(classWeight[c] as number) / Math.log(u);
      if (s > bestScore) {
        bestScore = s;
        best = classBest[c] as number;
      }
    }
    return best;
  }

  #score(a: number, b: number, i: number): number {
    const bits = mix53(a, b, this.#seedA[i] as number, this.#seedB[i] as number);
    if (this.#uniform) return bits;
    // u in (0, 1): never 0 (log) nor 1 (division by zero)
    const u = (bits + 0.5) / TWO_POW_53;
    return -(this.#weights[i] as number) / Math.log(u);
  }
}

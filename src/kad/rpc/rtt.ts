import type { Milliseconds } from '../../core/clock.js';
import { integerAtLeast, optionError, positiveNumber } from '../option-checks.js';
import type { EndpointId } from '../transport/transport.js';

/** Configuration of an {@link RttEstimator}. */
export interface RttEstimatorOptions {
  /**
   * Timeout for a destination with no RTT sample while the estimator has fewer than
   * `warmupSamples` samples in total, in ms.
   * @default 1500
   */
  readonly initialTimeoutMs?: Milliseconds;
  /**
   * Lower clamp of every timeout, in ms. Mainline RTTs are 50–500 ms; a floor keeps a node
   * whose last answers were fast from being declared dead by a little jitter.
   * @default 250
   */
  readonly minTimeoutMs?: Milliseconds;
  /** Upper clamp of every timeout, in ms. @default 5000 */
  readonly maxTimeoutMs?: Milliseconds;
  /**
   * Most destinations whose estimates are kept; the least recently updated is forgotten beyond
   * it (about 100 bytes each).
   * @default 10_000
   */
  readonly maxDestinations?: number;
  /**
   * Samples, over all destinations, after which an unknown destination gets the timeout of the
   * network-wide estimate (RFC 6298 over every sample) instead of `initialTimeoutMs`.
   * @default 8
   */
  readonly warmupSamples?: number;
}

/** Defaults of {@link RttEstimatorOptions}. */
export const DEFAULT_RTT_ESTIMATOR_OPTIONS = Object.freeze({
  initialTimeoutMs: 1500,
  minTimeoutMs: 250,
  maxTimeoutMs: 5000,
  maxDestinations: 10_000,
  warmupSamples: 8,
} satisfies Required<RttEstimatorOptions>);

/** The smoothed estimate of one destination. */
export interface RttEstimate {
  /** Smoothed round-trip time, ms. */
  readonly srttMs: Milliseconds;
  /** Smoothed mean deviation of the round-trip time, ms. */
  readonly rttvarMs: Milliseconds;
}

/** The estimate over every sample, with their number. */
export interface NetworkRttEstimate extends RttEstimate {
  /** Samples folded in. */
  readonly samples: number;
}

interface MutableEstimate {
  srttMs: number;
  rttvarMs: number;
  samples: number;
}

// RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

// A destination's estimate is packed into one small integer (a V8 Smi, no allocation): SRTT
// and RTTVAR in quarter milliseconds, 16 and 14 bits wide, so up to ~16 s and ~4 s; beyond
// that the timeout sits at maxTimeoutMs anyway. About 60 bytes per destination with its key.
const UNITS_PER_MS = 4;
const SRTT_MAX = 0xffff;
const RTTVAR_MAX = 0x3fff;
const RTTVAR_SPAN = RTTVAR_MAX + 1;

function pack(srttMs: number, rttvarMs: number): number {
  const srtt = Math.min(SRTT_MAX, Math.round(srttMs * UNITS_PER_MS));
  const rttvar = Math.min(RTTVAR_MAX, Math.round(rttvarMs * UNITS_PER_MS));
  return srtt * RTTVAR_SPAN + rttvar;
}

function unpack(packed: number): RttEstimate {
  return {
    srttMs: Math.floor(packed / RTTVAR_SPAN) / UNITS_PER_MS,
    rttvarMs: (packed % RTTVAR_SPAN) / UNITS_PER_MS,
  };
}

/**
 * Per-destination round-trip estimates (Jacobson/Karels, RFC 6298) and the adaptive timeout
 * `clamp(srtt + 4 * rttvar, minTimeoutMs, maxTimeoutMs)` derived from them.
 *
 * Samples must be unambiguous (Karn's rule); the RPC layer guarantees it by giving every
 * retransmission its own transaction id. Memory is bounded by `maxDestinations` (LRU).
 *
 * @see RFC 6298 "Computing TCP's Retransmission Timer"
 */
export class RttEstimator {
  readonly #options: Required<RttEstimatorOptions>;
  // Map iteration order doubles as LRU order: an update moves the key to the end
  readonly #byDestination = new Map<EndpointId, number>();
  readonly #network: MutableEstimate = { srttMs: 0.5, rttvarMs: 0.5, samples: 0 }; // doubles from the start: stable field representation

  constructor(options: RttEstimatorOptions = {}) {
    const d = DEFAULT_RTT_ESTIMATOR_OPTIONS;
    const minTimeoutMs = positiveNumber('minTimeoutMs', options.minTimeoutMs, d.minTimeoutMs, ' of ms');
    const maxTimeoutMs = positiveNumber('maxTimeoutMs', options.maxTimeoutMs, d.maxTimeoutMs, ' of ms');
    if (maxTimeoutMs < minTimeoutMs)
      throw optionError('maxTimeoutMs', `>= minTimeoutMs, ${minTimeoutMs}`, maxTimeoutMs);
    this.#options = {
      initialTimeoutMs: positiveNumber('initialTimeoutMs', options.initialTimeoutMs, d.initialTimeoutMs, ' of ms'),
      minTimeoutMs,
      maxTimeoutMs,
      maxDestinations: integerAtLeast('maxDestinations', options.maxDestinations, d.maxDestinations, 1),
      warmupSamples: integerAtLeast('warmupSamples', options.warmupSamples, d.warmupSamples, 1),
    };
  }

  /** Folds in one round-trip sample of `rttMs` for the destination `key` (see `endpointId`). */
  observe(key: EndpointId, rttMs: Milliseconds): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    const destinations = this.#byDestination;
    const packed = destinations.get(key);
    if (packed === undefined) {
      if (destinations.size >= this.#options.maxDestinations) {
        const oldest = destinations.keys().next();
        if (oldest.done !== true) destinations.delete(oldest.value);
      }
      // RFC 6298 §2.2: the first measurement R gives SRTT = R, RTTVAR = R/2
      destinations.set(key, pack(rttMs, rttMs / 2));
    } else {
      destinations.delete(key);
      const srttMs = Math.floor(packed / RTTVAR_SPAN) / UNITS_PER_MS;
      const rttvarMs = (packed % RTTVAR_SPAN) / UNITS_PER_MS;
      destinations.set(key, pack(nextSrtt(srttMs, rttMs), nextRttvar(srttMs, rttvarMs, rttMs)));
    }
    const network = this.#network;
    if (network.samples === 0) {
      network.srttMs = rttMs;
      network.rttvarMs = rttMs / 2;
    } else {
      network.rttvarMs = nextRttvar(network.srttMs, network.rttvarMs, rttMs);
      network.srttMs = nextSrtt(network.srttMs, rttMs);
    }
    network.samples++;
  }

  /**
   * The timeout for a request to `key`, ms: from its own estimate when it has one, else from the
   * network-wide estimate once warmed up, else `initialTimeoutMs`; always within
   * `[minTimeoutMs, maxTimeoutMs]`.
   */
  timeoutFor(key: EndpointId): Milliseconds {
    const packed = this.#byDestination.get(key);
    if (packed !== undefined)
      return this.#clamp(Math.floor(packed / RTTVAR_SPAN) / UNITS_PER_MS + (K * (packed % RTTVAR_SPAN)) / UNITS_PER_MS);
    return this.unknownTimeout();
  }

  /** The timeout for a destination without samples, ms (see {@link timeoutFor}). */
  unknownTimeout(): Milliseconds {
    const network = this.#network;
    if (network.samples >= this.#options.warmupSamples) return this.#rto(network);
    return this.#clamp(this.#options.initialTimeoutMs);
  }

  /** The estimate of `key` (to a quarter millisecond), or `undefined` when it has no samples. */
  get(key: EndpointId): RttEstimate | undefined {
    const packed = this.#byDestination.get(key);
    return packed === undefined ? undefined : unpack(packed);
  }

  /** The smoothed RTT of `key`, ms (as {@link get}, without the object), or `undefined`. */
  srttOf(key: EndpointId): Milliseconds | undefined {
    const packed = this.#byDestination.get(key);
    return packed === undefined ? undefined : Math.floor(packed / RTTVAR_SPAN) / UNITS_PER_MS;
  }

  /** The estimate over every sample of every destination. */
  network(): NetworkRttEstimate {
    return { ...this.#network };
  }

  /** Destinations tracked now. */
  get size(): number {
    return this.#byDestination.size;
  }

  /** The clamps in force, ms. */
  get bounds(): { readonly minTimeoutMs: Milliseconds; readonly maxTimeoutMs: Milliseconds } {
    return { minTimeoutMs: this.#options.minTimeoutMs, maxTimeoutMs: this.#options.maxTimeoutMs };
  }

  #rto(estimate: RttEstimate): Milliseconds {
    return this.#clamp(estimate.srttMs + K * estimate.rttvarMs);
  }

  #clamp(ms: Milliseconds): Milliseconds {
    return Math.min(this.#options.maxTimeoutMs, Math.max(this.#options.minTimeoutMs, Math.ceil(ms)));
  }
}

// RFC 6298 §2.3: RTTVAR is updated with the old SRTT, then SRTT
function nextRttvar(srttMs: number, rttvarMs: number, rttMs: number): number {
  return (1 - BETA) * rttvarMs + BETA * Math.abs(srttMs - rttMs);
}

function nextSrtt(srttMs: number, rttMs: number): number {
  return (1 - ALPHA) * srttMs + ALPHA * rttMs;
}

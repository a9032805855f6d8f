import type { Milliseconds } from '../registry/clock.js';
import { KadError } from './errors.js';
import { integerAtLeast, positiveNumber } from './option-checks.js';

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

/** The smoothed estimate of one destination (or of the whole network). */
export interface RttEstimate {
  /** Smoothed round-trip time, ms. */
  readonly srttMs: Milliseconds;
  /** Smoothed mean deviation of the round-trip time, ms. */
  readonly rttvarMs: Milliseconds;
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
  readonly #byDestination = new Map<string, MutableEstimate>();
  readonly #network: MutableEstimate = { srttMs: 0, rttvarMs: 0, samples: 0 };

  constructor(options: RttEstimatorOptions = {}) {
    const d = DEFAULT_RTT_ESTIMATOR_OPTIONS;
    const minTimeoutMs = positiveNumber('minTimeoutMs', options.minTimeoutMs, d.minTimeoutMs, ' of ms');
    const maxTimeoutMs = positiveNumber('maxTimeoutMs', options.maxTimeoutMs, d.maxTimeoutMs, ' of ms');
    if (maxTimeoutMs < minTimeoutMs) throw KadError.invalidOption('maxTimeoutMs must be >= minTimeoutMs');
    this.#options = {
      initialTimeoutMs: positiveNumber('initialTimeoutMs', options.initialTimeoutMs, d.initialTimeoutMs, ' of ms'),
      minTimeoutMs,
      maxTimeoutMs,
      maxDestinations: integerAtLeast('maxDestinations', options.maxDestinations, d.maxDestinations, 1),
      warmupSamples: integerAtLeast('warmupSamples', options.warmupSamples, d.warmupSamples, 1),
    };
  }

  /** Folds in one round-trip sample of `rttMs` for the destination `key` (an endpoint key). */
  observe(key: string, rttMs: Milliseconds): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    let estimate = this.#byDestination.get(key);
    if (estimate === undefined) {
      estimate = { srttMs: 0, rttvarMs: 0, samples: 0 };
      if (this.#byDestination.size >= this.#options.maxDestinations) {
        const oldest = this.#byDestination.keys().next();
        if (oldest.done !== true) this.#byDestination.delete(oldest.value);
      }
    } else {
      this.#byDestination.delete(key);
    }
    this.#byDestination.set(key, estimate);
    fold(estimate, rttMs);
    fold(this.#network, rttMs);
  }

  /**
   * The timeout for a request to `key`, ms: from its own estimate when it has one, else from the
   * network-wide estimate once warmed up, else `initialTimeoutMs`; always within
   * `[minTimeoutMs, maxTimeoutMs]`.
   */
  timeoutFor(key: string): Milliseconds {
    const estimate = this.#byDestination.get(key);
    if (estimate !== undefined) return this.#rto(estimate);
    return this.unknownTimeout();
  }

  /** The timeout for a destination without samples, ms (see {@link timeoutFor}). */
  unknownTimeout(): Milliseconds {
    const network = this.#network;
    if (network.samples >= this.#options.warmupSamples) return this.#rto(network);
    return this.#clamp(this.#options.initialTimeoutMs);
  }

  /** The estimate of `key`, or `undefined` when it has no samples (or was forgotten). */
  get(key: string): RttEstimate | undefined {
    const estimate = this.#byDestination.get(key);
    return estimate === undefined ? undefined : { ...estimate };
  }

  /** The estimate over every sample of every destination. */
  network(): RttEstimate {
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

  #rto(estimate: MutableEstimate): Milliseconds {
    return this.#clamp(estimate.srttMs + K * estimate.rttvarMs);
  }

  #clamp(ms: Milliseconds): Milliseconds {
    return Math.min(this.#options.maxTimeoutMs, Math.max(this.#options.minTimeoutMs, Math.ceil(ms)));
  }
}

function fold(estimate: MutableEstimate, rttMs: number): void {
  if (estimate.samples === 0) {
    // RFC 6298 §2.2: first measurement R gives SRTT = R, RTTVAR = R/2
    estimate.srttMs = rttMs;
    estimate.rttvarMs = rttMs / 2;
  } else {
    // §2.3: RTTVAR is updated with the old SRTT, then SRTT
    estimate.rttvarMs = (1 - BETA) * estimate.rttvarMs + BETA * Math.abs(estimate.srttMs - rttMs);
    estimate.srttMs = (1 - ALPHA) * estimate.srttMs + ALPHA * rttMs;
  }
  estimate.samples++;
}

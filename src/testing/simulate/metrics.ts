import type { Milliseconds } from '../../core/clock.js';

/** The kinds of operation measured. */
export type OperationKind = 'get' | 'lookup' | 'peers';

/** One measured operation (a read of one strategy). */
export interface OperationRecord {
  readonly kind: OperationKind;
  /** Index of the strategy in the resolved options. */
  readonly strategy: number;
  /** Start, virtual ms since the workload began. */
  readonly at: Milliseconds;
  readonly ok: boolean;
  readonly latencyMs: Milliseconds;
  /** Queries the lookup sent. */
  readonly messages: number;
  /** Hops to the node that answered it (see `HopTracer`), when known. */
  readonly hops: number | undefined;
}

/** Quantiles of a sample. */
export interface Quantiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** The `q` quantile of ascending `sorted` (nearest rank); 0 for an empty sample. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** p50 / p90 / p99 of `values`, rounded to `digits` decimals. */
export function quantiles(values: readonly number[], digits = 0): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round(quantile(sorted, 0.5), digits),
    p90: round(quantile(sorted, 0.9), digits),
    p99: round(quantile(sorted, 0.99), digits),
  };
}

/** `value` rounded to `digits` decimals (reports print the same bytes for the same run). */
export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The mean of `values` (0 when empty). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

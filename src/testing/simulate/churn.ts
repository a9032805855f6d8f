import type { Milliseconds } from '../../core/clock.js';

const HOUR_MS = 3_600_000;

/**
 * Session lengths of a churning population: Pareto with shape `a` (heavy-tailed: most sessions
 * short, a few very long, as measured in Mainline) and the mean that makes `churn` of the
 * nodes leave per hour in steady state (mean session = 1 / churn hours). With `churn` 0 nodes
 * never leave.
 */
export class SessionModel {
  readonly #shape: number;
  /** Pareto scale: the shortest session, ms. */
  readonly #scaleMs: number;
  readonly #meanMs: number;

  constructor(churnPerHour: number, shape: number) {
    this.#shape = shape;
    this.#meanMs = churnPerHour === 0 ? Number.POSITIVE_INFINITY : HOUR_MS / churnPerHour;
    this.#scaleMs = (this.#meanMs * (shape - 1)) / shape;
  }

  /** Mean session length, ms (`Infinity` without churn). */
  get meanMs(): Milliseconds {
    return this.#meanMs;
  }

  /** A fresh session's length, ms, from a uniform `u` in (0, 1). */
  session(u: number): Milliseconds {
    if (!Number.isFinite(this.#meanMs)) return Number.POSITIVE_INFINITY;
    return this.#scaleMs * (1 - u) ** (-1 / this.#shape);
  }

  /**
   * What is left of the session of a node found online at a random moment, ms (the equilibrium
   * residual of the Pareto law, so that the first nodes do not all start fresh and the leave
   * rate is steady from the start): uniform below the scale with probability (a − 1) / a, else
   * Pareto with shape a − 1.
   */
  residual(u: number): Milliseconds {
    if (!Number.isFinite(this.#meanMs)) return Number.POSITIVE_INFINITY;
    const a = this.#shape;
    const split = (a - 1) / a;
    if (u < split) return u * this.#meanMs;
    return this.#scaleMs * (a * (1 - u)) ** (-1 / (a - 1));
  }
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { integerAtLeast } from '../option-checks.js';

/** Configuration of {@link WriteTokens}. */
export interface WriteTokenOptions {
  /**
   * How often the secret changes, in ms. A token stays valid until the end of the period after
   * the one it was issued in, so between `rotateMs` and `2 × rotateMs`.
   * @default 300_000 (5 minutes, as BEP 5 suggests)
   * @see BEP 5 "announce_peer"
   */
  readonly rotateMs?: Milliseconds;
}

/** Injected collaborators of {@link WriteTokens}. */
export interface WriteTokenDeps {
  /** Source of time: the secret rotates on this clock. @default systemClock */
  readonly clock?: Clock;
  /** Source of secret bytes (tests may make secrets deterministic). @default crypto.randomBytes */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/** Defaults of {@link WriteTokenOptions}. */
export const DEFAULT_WRITE_TOKEN_OPTIONS = Object.freeze({
  rotateMs: 5 * 60_000,
} satisfies Required<WriteTokenOptions>);

/** Length of a token in bytes (a full HMAC-SHA1). */
export const WRITE_TOKEN_BYTES = 20;
const SECRET_BYTES = 20;

interface Secret {
  readonly period: number;
  readonly bytes: Uint8Array;
  /** Tokens already computed under this secret, by canonical host (bounded, cleared when full). */
  issued: Map<string, Uint8Array> | undefined;
}

/** Most tokens remembered per secret: an HMAC saved per repeat requester, ~100 bytes each. */
const MAX_CACHED_TOKENS = 4096;

/**
 * Write tokens for `get_peers` → `announce_peer` and BEP 44 `get` → `put`: a token is
 * HMAC-SHA1(secret, requester IP). The secret rotates every `rotateMs` on the injected clock and
 * the previous secret is still accepted, so a token is valid for 5–10 minutes by default.
 *
 * Rotation is lazy (computed from `clock.now()` on each call): no timer to cancel, and a node idle
 * for an hour starts over with fresh secrets.
 *
 * @see BEP 5 "get_peers": "the token … SHA1 hash of the IP address concatenated onto a secret
 *   that changes every five minutes and tokens up to ten minutes old are accepted"
 */
export class WriteTokens {
  readonly #rotateMs: Milliseconds;
  readonly #clock: Clock;
  readonly #random: (size: number) => Uint8Array;
  readonly #origin: Milliseconds;
  #current: Secret;
  #previous: Secret | undefined;

  constructor(options: WriteTokenOptions = {}, deps: WriteTokenDeps = {}) {
    this.#rotateMs = integerAtLeast('rotateMs', options.rotateMs, DEFAULT_WRITE_TOKEN_OPTIONS.rotateMs, 1);
    this.#clock = deps.clock ?? systemClock;
    this.#random = deps.randomBytes ?? randomBytes;
    this.#origin = this.#clock.now();
    this.#current = this.#secret(0);
  }

  /** A token for `host` (the requester's IP as text, v4 or v6), valid now and for the next period. */
  issue(host: string): Uint8Array {
    this.#rotate();
    return tokenOf(this.#current, canonicalHost(host)).slice(); // a copy: the cached one stays intact
  }

  /**
   * Whether `token` was issued to `host` under the current or the previous secret. Runs in
   * constant time over the token bytes.
   */
  verify(host: string, token: Uint8Array): boolean {
    if (token.length !== WRITE_TOKEN_BYTES) return false;
    this.#rotate();
    const canonical = canonicalHost(host);
    // evaluate both candidates so timing does not reveal which secret matched
    const current = timingSafeEqual(tokenOf(this.#current, canonical), token);
    const previous = this.#previous === undefined ? false : timingSafeEqual(tokenOf(this.#previous, canonical), token);
    return current || previous;
  }

  #rotate(): void {
    const period = Math.floor((this.#clock.now() - this.#origin) / this.#rotateMs);
    if (period === this.#current.period) return;
    // a clock that moved back, or more than one period passed: nothing old stays valid
    this.#previous = period === this.#current.period + 1 ? this.#current : undefined;
    this.#current = this.#secret(period);
  }

  #secret(period: number): Secret {
    return { period, bytes: this.#random(SECRET_BYTES), issued: undefined };
  }
}

function tokenOf(secret: Secret, canonical: string): Uint8Array {
  let token = secret.issued?.get(canonical);
  if (token === undefined) {
    token = new Uint8Array(createHmac('sha1', secret.bytes).update(canonical, 'latin1').digest());
    // created with the first token: a node nobody asked for one holds no map
    const issued = (secret.issued ??= new Map());
    if (issued.size >= MAX_CACHED_TOKENS) issued.clear();
    issued.set(canonical, token);
  }
  return token;
}

/** `::ffff:1.2.3.4` and `1.2.3.4` are the same requester; v6 text is case-insensitive. */
function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
}

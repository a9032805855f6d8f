import {
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCResourceExhastedError,
} from 'etcd3';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { HEADER_BYTES, LAYOUT_VERSION } from '../record-layout.js';
import type { RegistryRecord } from '../registry.js';

/** The end of the key range that holds every key starting with `prefix` (etcd's `range_end`). */
export function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  // a prefix of 0xff bytes only: every key from it on
  return Buffer.from([0]);
}

/** The stored bytes of `record`: the shared 33-byte header, then the value (see `record-layout.ts`). */
export function encodeRecord(record: RegistryRecord): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + record.value.byteLength);
  out[0] = LAYOUT_VERSION;
  out.writeDoubleLE(record.version, 1);
  out.writeDoubleLE(record.createdAt, 9);
  out.writeDoubleLE(record.updatedAt, 17);
  out.writeDoubleLE(record.expiresAt ?? 0, 25);
  out.set(record.value, HEADER_BYTES);
  return out;
}

/**
 * A signed 64-bit integer as protobuf.js encodes it without parsing: the `{ low, high }` words
 * of a `Long`. The etcd3 client hands out int64s (lease ids) as decimal strings, and turning a
 * string back into a `Long` on every request costs ~0.35 µs per field (100 puts: ~35 µs of a
 * ~70 µs encoding); the words are computed once per lease instead.
 */
export interface Int64Words {
  readonly low: number;
  readonly high: number;
  readonly unsigned: false;
}

/** The {@link Int64Words} of a decimal int64 (`-2^63 ≤ n < 2^63`). */
export function int64Words(decimal: string): Int64Words {
  const n = BigInt(decimal);
  return { low: Number(BigInt.asIntN(32, n)), high: Number(BigInt.asIntN(32, n >> 32n)), unsigned: false };
}

/** Whether `error` says the lease a write named is gone (expired or revoked). */
export function isLeaseGone(error: unknown): boolean {
  return error instanceof EtcdLeaseInvalidError;
}

/** The typed error for a failed etcd call. */
export function toRegistryError(error: unknown, what: string): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof ClientClosedError) return RegistryError.closed();
  if (error instanceof GRPCDeadlineExceededError)
    return RegistryError.timeout(`etcd ${what}: deadline exceeded`, error);
  if (error instanceof GRPCResourceExhastedError) {
    return RegistryError.capacityExceeded(`etcd ${what}: ${(error as Error).message}`);
  }
  if (error instanceof GRPCInvalidArgumentError && /request is too large/.test(error.message)) {
    return RegistryError.capacityExceeded(
      `etcd ${what}: the request is larger than the cluster's --max-request-bytes (set maxRequestBytes to it)`,
    );
  }
  if (error instanceof GRPCInvalidArgumentError) {
    return RegistryError.invalidOption(`etcd refused the ${what} request: ${error.message}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return RegistryError.unavailable(`etcd ${what} failed: ${message}`, error);
}

/**
 * Runs `call` under a deadline of `timeoutMs` on `clock` and the caller's `signal`: past the
 * deadline it rejects with `TIMEOUT` (the request may still be applied by etcd), on abort with
 * `signal.reason`; a failure of `call` rejects with its typed error.
 */
export function withDeadline<T>(
  clock: Clock,
  timeoutMs: Milliseconds,
  signal: AbortSignal | undefined,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      // the contract: an abort rejects with the signal's reason, whatever it is
      if (finish()) reject((signal as AbortSignal).reason as Error);
    };
    const timer = clock.setTimeout(() => {
      if (finish()) reject(RegistryError.timeout(`etcd ${what} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    call().then(
      (value) => {
        if (finish()) resolve(value);
      },
      (error: unknown) => {
        if (finish()) reject(toRegistryError(error, what));
      },
    );
  });
}

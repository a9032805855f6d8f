import { randomFillSync } from 'node:crypto';

/** Length of the transaction ids this node issues, in bytes. */
export const TRANSACTION_ID_BYTES = 4;

/**
 * Issues 4-byte KRPC transaction ids: a 16-bit counter from a random start, so ids are unique
 * among requests in flight, followed by 16 random bits, so an off-path host cannot predict the
 * next one (it would also have to spoof the queried node's address). Ids travel as bytes and
 * are kept as unsigned 32-bit numbers for cheap map keys.
 */
export class TransactionIds {
  #counter: number;

  constructor() {
    this.#counter = random16();
  }

  /** A fresh id for which `inUse` is false. */
  next(inUse: (id: number) => boolean): number {
    for (;;) {
      this.#counter = (this.#counter + 1) & 0xffff;
      const id = ((this.#counter << 16) | random16()) >>> 0;
      if (!inUse(id)) return id;
    }
  }
}

// random bits from one pool for the whole process (one randomFillSync per 32 ids): every RPC
// layer draws from it, so none holds a buffer of its own
const pool = new Uint8Array(64);
let poolPos = pool.length;

function random16(): number {
  if (poolPos + 2 > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const value = ((pool[poolPos] ?? 0) << 8) | (pool[poolPos + 1] ?? 0);
  poolPos += 2;
  return value;
}

/** The 4 wire bytes of an id (big-endian). */
export function transactionIdToBytes(id: number): Uint8Array {
  return Uint8Array.of(id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
}

/** The id a reply's `t` names, or `undefined` when it cannot be one of ours (not 4 bytes). */
export function transactionIdFromBytes(t: Uint8Array): number | undefined {
  if (t.byteLength !== TRANSACTION_ID_BYTES) return undefined;
  return (((t[0] ?? 0) << 24) | ((t[1] ?? 0) << 16) | ((t[2] ?? 0) << 8) | (t[3] ?? 0)) >>> 0;
}

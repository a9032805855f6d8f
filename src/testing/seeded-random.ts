/**
 * A small, fast, seedable 32-bit PRNG (mulberry32) returning floats in [0, 1): deterministic
 * packet loss, fuzz inputs and shuffles in tests. Not for anything security related.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` bytes drawn from `random` (a {@link seededRandom}): deterministic ids, values, secrets. */
export function seededBytes(random: () => number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/**
 * Redis Cluster hash slots: CRC16 (XMODEM) of the key, or of its `{hash tag}` when it has a
 * non-empty one, modulo 16384.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
 */

/** Number of hash slots in a Redis Cluster. */
export const SLOT_COUNT = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ (bytes[i] ?? 0)) & 0xff] ?? 0);
  return crc;
}

/** The hash slot of `key` (its UTF-8 bytes), honouring hash tags as Redis does. */
export function keySlot(key: string | Uint8Array): number {
  if (typeof key === 'string') {
    const ascii = asciiSlot(key);
    if (ascii !== -1) return ascii;
  }
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // '{'
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // '}'
    // only a non-empty tag counts: "{}" hashes the whole key
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return crc16(bytes, start, end) % SLOT_COUNT;
}

/** The slot of an all-ASCII key without encoding it (most keys); -1 when it is not ASCII. */
function asciiSlot(key: string): number {
  const n = key.length;
  let start = 0;
  let end = n;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return -1;
    if (i >= start && i < end) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ c) & 0xff] ?? 0);
  }
  return crc % SLOT_COUNT;
}

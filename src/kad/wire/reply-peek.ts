/**
 * A cheap look at a datagram before decoding it: is it shaped like a KRPC reply, and under which
 * transaction id? The RPC layer decodes a datagram over 1500 bytes only when it answers one of
 * its own outstanding queries, and asks this first, so unsolicited big datagrams (junk or not)
 * are dropped without building anything from them.
 */

const I = 0x69; // 'i'
const L = 0x6c; // 'l'
const D = 0x64; // 'd'
const E = 0x65; // 'e'
const R = 0x72; // 'r'
const T = 0x74; // 't'
const Y = 0x79; // 'y'
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
// a string length above 10 digits (≥ 10 GB) never fits in a datagram
const MAX_LENGTH_DIGITS = 10;

/**
 * The transaction id `t` of a datagram whose top level is a bencoded dict with `y` = `r` or `e`
 * (a response or an error), as a view of `datagram` (not a copy); `undefined` for anything else
 * or for bytes that do not scan as bencoding. It only skips over the values (no allocation, no
 * recursion, nesting bounded by `maxDepth`): one pass over the bytes at most. It does not
 * validate the message; a datagram it accepts still goes through `decodeMessage`.
 */
export function peekReplyTransactionId(datagram: Uint8Array, maxDepth = 16): Uint8Array | undefined {
  if (datagram[0] !== D) return undefined;
  let pos = 1;
  let t: Uint8Array | undefined;
  let reply = false;
  while (pos < datagram.length) {
    if (datagram[pos] === E) return reply && pos === datagram.length - 1 ? t : undefined;
    // a key: a byte string
    const keyStart = stringStart(datagram, pos);
    if (keyStart < 0) return undefined;
    const keyEnd = keyStart + stringLength(datagram, pos, keyStart);
    if (keyEnd > datagram.length) return undefined;
    const oneByteKey = keyEnd - keyStart === 1 ? datagram[keyStart] : undefined;
    pos = keyEnd;
    if (oneByteKey === T || oneByteKey === Y) {
      const valueStart = stringStart(datagram, pos);
      if (valueStart < 0) return undefined;
      const valueEnd = valueStart + stringLength(datagram, pos, valueStart);
      if (valueEnd > datagram.length) return undefined;
      if (oneByteKey === T) t = datagram.subarray(valueStart, valueEnd);
      else reply = valueEnd - valueStart === 1 && (datagram[valueStart] === R || datagram[valueStart] === E);
      pos = valueEnd;
    } else {
      pos = skipValue(datagram, pos, maxDepth);
      if (pos < 0) return undefined;
    }
  }
  return undefined;
}

/** Where the bytes of the string whose length prefix starts at `pos` begin, or -1. */
function stringStart(bytes: Uint8Array, pos: number): number {
  const end = Math.min(bytes.length, pos + MAX_LENGTH_DIGITS + 1);
  for (let i = pos; i < end; i++) {
    const c = bytes[i] as number;
    if (c === COLON) return i > pos ? i + 1 : -1;
    if (c < ZERO || c > NINE) return -1;
  }
  return -1;
}

/** The length written in `bytes[pos, start - 1)`, digits already checked. */
function stringLength(bytes: Uint8Array, pos: number, start: number): number {
  let length = 0;
  for (let i = pos; i < start - 1; i++) length = length * 10 + ((bytes[i] as number) - ZERO);
  return length;
}

/** The position just past the value at `pos`, or -1 when it does not scan. */
function skipValue(bytes: Uint8Array, start: number, maxDepth: number): number {
  let pos = start;
  let depth = 0;
  do {
    const c = bytes[pos];
    if (c === undefined) return -1;
    if (c === I) {
      const end = bytes.indexOf(E, pos + 1);
      if (end < 0) return -1;
      pos = end + 1;
    } else if (c >= ZERO && c <= NINE) {
      const from = stringStart(bytes, pos);
      if (from < 0) return -1;
      pos = from + stringLength(bytes, pos, from);
      if (pos > bytes.length) return -1;
    } else if (c === L || c === D) {
      if (++depth > maxDepth) return -1;
      pos++;
    } else if (c === E && depth > 0) {
      depth--;
      pos++;
    } else {
      return -1;
    }
  } while (depth > 0);
  return pos;
}

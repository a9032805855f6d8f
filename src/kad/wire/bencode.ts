import { describe } from '../../core/describe.js';
import { KadError } from '../errors.js';
import { integerAtLeast, integerInRange } from '../option-checks.js';

/**
 * A bencoded value. Byte strings are `Uint8Array`, lists are arrays and dictionaries are
 * {@link BencodeDict}s. Integers are `number` within
 * `Number.MIN_SAFE_INTEGER..Number.MAX_SAFE_INTEGER` and `bigint` beyond (bencoding has no size
 * limit, and BEP 44 sequence numbers are 64-bit): {@link bdecode} gives a `number` whenever the
 * value is safe, a `bigint` only when it is not, and {@link bencode} takes either.
 *
 * @see BEP 3 "bencoding"
 */
export type BencodeValue = Uint8Array | number | bigint | BencodeValue[] | BencodeDict;

/**
 * A bencoded dictionary. Keys are byte strings held as latin1 ("binary") JS strings, one char
 * per byte (char codes 0–255), so any key bytes round-trip; ASCII keys such as `"info_hash"`
 * read naturally. Decoded dictionaries are null-prototype objects: a `"__proto__"` key is an
 * ordinary own property and cannot pollute prototypes.
 */
export interface BencodeDict {
  [key: string]: BencodeValue;
}

/** Bounds applied by {@link bdecode}. */
export interface BdecodeLimits {
  /**
   * Largest accepted input, in bytes. Larger input is rejected before parsing.
   * @default 1500 (one UDP datagram on a typical MTU)
   */
  maxBytes?: number;
  /**
   * Deepest accepted nesting of lists and dictionaries; the top-level container is depth 1.
   * At most {@link MAX_DEPTH_CEILING}.
   * @default 16
   */
  maxDepth?: number;
}

/** Default bounds of {@link bdecode}. */
export const DEFAULT_BDECODE_LIMITS: Readonly<Required<BdecodeLimits>> = Object.freeze({
  maxBytes: 1500,
  maxDepth: 16,
});

/** Hard ceiling for `maxDepth` (and the encoder's depth), far below any stack limit. */
export const MAX_DEPTH_CEILING = 256;

const I = 0x69; // 'i'
const L = 0x6c; // 'l'
const D = 0x64; // 'd'
const E = 0x65; // 'e'
const COLON = 0x3a;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
/**
 * Most digits of an integer {@link bdecode} accepts: as many as a 1500-byte datagram can hold,
 * so any integer a peer can send decodes (parsing a bigint that long costs ~15 µs).
 */
export const MAX_INTEGER_DIGITS = 1500;
// a string length above 10 digits (≥ 10 GB) can never fit in any input we accept
const MAX_LENGTH_DIGITS = 10;

/**
 * Decodes one canonical bencoded value that spans all of `bytes`.
 *
 * Strict: rejects input over `maxBytes`, nesting past `maxDepth`, leading zeros, `-0`, empty
 * integers, integers over {@link MAX_INTEGER_DIGITS} digits, string lengths past the end,
 * dictionary keys that are not byte strings or not in strictly increasing byte order (so no
 * duplicates), and trailing bytes. Integers outside the safe range decode as `bigint`, the others
 * as `number`. Byte strings in the result are fresh: views of one private copy of `bytes` made
 * by this call (one allocation per message, not one per string), never views of `bytes` itself.
 * A kept byte string keeps that copy alive: copy it to keep a few bytes of a large input.
 *
 * Cost: one pass, O(n) in the input size plus key comparisons.
 *
 * @throws {KadError} `INVALID_MESSAGE` for any malformed or out-of-bounds input (never anything
 *   else), `INVALID_OPTION` for bad `limits`.
 */
export function bdecode(bytes: Uint8Array, limits: BdecodeLimits = {}): BencodeValue {
  const maxBytes = integerAtLeast('maxBytes', limits.maxBytes, DEFAULT_BDECODE_LIMITS.maxBytes, 1);
  const maxDepth = integerInRange('maxDepth', limits.maxDepth, DEFAULT_BDECODE_LIMITS.maxDepth, 0, MAX_DEPTH_CEILING);
  if (!(bytes instanceof Uint8Array)) throw KadError.invalidMessage('bencode: input is not a byte array');
  if (bytes.length > maxBytes) {
    throw KadError.invalidMessage(`bencode: input of ${bytes.length} bytes exceeds ${maxBytes} bytes`);
  }
  if (bytes.length === 0) throw KadError.invalidMessage('bencode: empty input');
  // one plain Uint8Array copy (even of a Buffer), of which the byte strings are views
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const decoder = new Decoder(copy, maxDepth);
  const value = decoder.value(0);
  if (decoder.pos !== bytes.length) {
    throw KadError.invalidMessage(`bencode: ${bytes.length - decoder.pos} trailing bytes at byte ${decoder.pos}`);
  }
  return value;
}

/**
 * The dictionary keys of KRPC (BEP 5, 32, 33, 42, 43, 44), by length: a key among them decodes
 * to the one shared string, without building it char by char (a message holds about ten keys,
 * and each char appended made a new string).
 */
const KNOWN_KEYS: readonly (readonly string[])[] = (() => {
  const keys =
    'a e k q r t v y id ip ro cas seq sig port salt want BFpe BFsd nodes token nodes6 target values noseed scrape info_hash implied_port';
  const byLength: string[][] = [];
  for (const key of keys.split(' ')) (byLength[key.length] ??= []).push(key);
  return byLength;
})();

/** The string of {@link KNOWN_KEYS} spelled by `buf[from..to)`, if any. */
function knownKey(buf: Uint8Array, from: number, to: number): string | undefined {
  const candidates = KNOWN_KEYS[to - from];
  if (candidates === undefined) return undefined;
  next: for (const key of candidates) {
    for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== buf[from + i]) continue next;
    return key;
  }
  return undefined;
}

class Decoder {
  pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly maxDepth: number,
  ) {}

  fail(reason: string, at = this.pos): never {
    throw KadError.invalidMessage(`bencode: ${reason} at byte ${at}`);
  }

  // recursion depth is bounded by maxDepth (≤ MAX_DEPTH_CEILING), so the stack cannot blow up
  value(depth: number): BencodeValue {
    const c = this.buf[this.pos];
    if (c === undefined) this.fail('unexpected end of input');
    if (c === I) return this.integer();
    if (c >= ZERO && c <= NINE) return this.bytes();
    if (c === L || c === D) {
      if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
      return c === L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    return this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  }

  integer(): number | bigint {
    const start = ++this.pos; // skip 'i'
    const buf = this.buf;
    let negative = false;
    if (buf[this.pos] === MINUS) {
      negative = true;
      this.pos++;
    }
    const digitsStart = this.pos;
    let value = 0;
    for (;;) {
      const c = buf[this.pos];
      if (c === undefined) this.fail('unterminated integer', start - 1);
      if (c === E) break;
      if (c < ZERO || c > NINE) this.fail('invalid character in integer');
      if (this.pos - digitsStart >= MAX_INTEGER_DIGITS) {
        this.fail(`integer longer than ${MAX_INTEGER_DIGITS} digits`, start - 1);
      }
      value = value * 10 + (c - ZERO);
      this.pos++;
    }
    const digits = this.pos - digitsStart;
    if (digits === 0) this.fail('integer without digits', start - 1);
    if (buf[digitsStart] === ZERO && (digits > 1 || negative)) {
      this.fail(negative ? 'negative zero' : 'leading zero in integer', start - 1);
    }
    this.pos++; // skip 'e'
    if (Number.isSafeInteger(value)) return negative ? -value : value;
    // beyond 2^53 the float sum above is inexact (it only ever rounds up to more than 2^53 - 1)
    let text = '';
    for (let i = digitsStart; i < digitsStart + digits; i++) text += String.fromCharCode(buf[i] ?? ZERO);
    const big = BigInt(text);
    return negative ? -big : big;
  }

  /** Reads `<length>:` and returns where the string's bytes start; they end at the new `pos`. */
  span(): number {
    const buf = this.buf;
    const start = this.pos;
    let length = 0;
    for (;;) {
      const c = buf[this.pos];
      if (c === undefined) this.fail('unterminated string length', start);
      if (c === COLON) break;
      if (c < ZERO || c > NINE) this.fail('invalid character in string length');
      if (this.pos - start >= MAX_LENGTH_DIGITS) this.fail('string length too long', start);
      length = length * 10 + (c - ZERO);
      this.pos++;
    }
    if (this.pos - start > 1 && buf[start] === ZERO) this.fail('leading zero in string length', start);
    const from = this.pos + 1;
    const to = from + length;
    if (to > buf.length) this.fail(`string of ${length} bytes runs past the end`, start);
    this.pos = to;
    return from;
  }

  bytes(): Uint8Array {
    const from = this.span();
    return this.buf.subarray(from, this.pos);
  }

  key(): string {
    const from = this.span();
    const to = this.pos;
    const buf = this.buf;
    const known = knownKey(buf, from, to);
    if (known !== undefined) return known;
    let key = '';
    // keys are short (KRPC keys are ≤ 12 bytes); building char by char beats a Buffer round trip
    for (let i = from; i < to; i++) key += String.fromCharCode(buf[i] ?? 0);
    return key;
  }

  list(depth: number): BencodeValue[] {
    this.pos++; // skip 'l'
    const out: BencodeValue[] = [];
    while (this.buf[this.pos] !== E) {
      if (this.pos >= this.buf.length) this.fail('unterminated list');
      out.push(this.value(depth));
    }
    this.pos++; // skip 'e'
    return out;
  }

  dict(depth: number): BencodeDict {
    this.pos++; // skip 'd'
    const out = Object.create(null) as BencodeDict;
    let previous: string | undefined;
    for (;;) {
      const c = this.buf[this.pos];
      if (c === undefined) this.fail('unterminated dictionary');
      if (c === E) break;
      if (c < ZERO || c > NINE) this.fail('dictionary key is not a byte string');
      const at = this.pos;
      const key = this.key();
      // latin1 strings compare by char code = by byte, so this is the raw-byte order of BEP 3
      if (previous !== undefined && key <= previous) {
        this.fail(key === previous ? 'duplicate dictionary key' : 'dictionary keys not sorted', at);
      }
      previous = key;
      out[key] = this.value(depth);
    }
    this.pos++; // skip 'e'
    return out;
  }
}

/**
 * Encodes `value` canonically: integers in decimal without leading zeros, dictionary keys sorted
 * by raw bytes. `bdecode(bencode(v))` deep-equals `v` for every valid value whose integers are
 * `number`s when safe and `bigint`s only beyond (a safe `bigint` decodes as a `number`).
 *
 * @throws {KadError} `INVALID_MESSAGE` when `value` holds something that has no bencoding: a
 *   non-integer or unsafe `number` (pass a `bigint`), a key with a char code above 255, a nesting deeper than
 *   {@link MAX_DEPTH_CEILING} (or a cycle), or a value of another type.
 */
export function bencode(value: BencodeValue): Uint8Array {
  const writer = new Writer();
  writer.value(value, 0);
  return writer.finish();
}

// One scratch buffer for the whole process, kept while it is at most a datagram's size: encoding
// is synchronous, so no two writers ever use it at once, and `finish` copies the message out at
// its exact size. A fresh 256-byte array per message (a backing store outside the JS heap) cost
// more than the encoding itself.
const SCRATCH_BYTES = 2048;
const MAX_SCRATCH_BYTES = 65_536;
let scratch = new Uint8Array(SCRATCH_BYTES);

class Writer {
  buf = scratch;
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    if (size <= MAX_SCRATCH_BYTES) scratch = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  decimal(n: number | bigint): void {
    const text = String(n);
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.buf[this.pos++] = text.charCodeAt(i);
  }

  value(value: BencodeValue, depth: number): void {
    if (value instanceof Uint8Array) {
      this.decimal(value.length);
      this.reserve(value.length + 1);
      this.buf[this.pos++] = COLON;
      this.buf.set(value, this.pos);
      this.pos += value.length;
    } else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) {
        throw KadError.invalidMessage(`bencode: cannot encode ${value}: not a safe integer`);
      }
      this.byte(I);
      this.decimal(Object.is(value, -0) ? 0 : value);
      this.byte(E);
    } else if (typeof value === 'bigint') {
      this.byte(I);
      this.decimal(value);
      this.byte(E);
    } else if (Array.isArray(value)) {
      this.enter(depth);
      this.byte(L);
      for (const item of value) this.value(item, depth + 1);
      this.byte(E);
    } else if (isPlainObject(value)) {
      this.enter(depth);
      this.byte(D);
      // latin1 keys: default (UTF-16 code unit) order equals raw byte order
      const keys = sortedKeys(value);
      for (const key of keys) {
        const item = value[key];
        if (item === undefined) continue; // optional fields left undefined are simply absent
        this.key(key);
        this.value(item, depth + 1);
      }
      this.byte(E);
    } else {
      throw KadError.invalidMessage(`bencode: cannot encode ${describe(value)}`);
    }
  }

  enter(depth: number): void {
    if (depth >= MAX_DEPTH_CEILING) {
      throw KadError.invalidMessage(`bencode: nesting deeper than ${MAX_DEPTH_CEILING} (or a cycle)`);
    }
  }

  key(key: string): void {
    this.decimal(key.length);
    this.reserve(key.length + 1);
    this.buf[this.pos++] = COLON;
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      if (code > 0xff) throw KadError.invalidMessage(`bencode: dictionary key ${JSON.stringify(key)} is not latin1`);
      this.buf[this.pos++] = code;
    }
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/**
 * The length in bytes of `bencode(value)`, computed without encoding anything: what a reply
 * builder needs to know what still fits in a datagram. Values without a bencoding are sized as
 * if they had one; `bencode` is where they are refused.
 */
export function bencodedSize(value: BencodeValue): number {
  return sizeOf(value, 0);
}

function sizeOf(value: BencodeValue, depth: number): number {
  if (value instanceof Uint8Array) return stringSize(value.length);
  if (typeof value === 'number') return String(Object.is(value, -0) ? 0 : value).length + 2;
  if (typeof value === 'bigint') return String(value).length + 2;
  if (depth >= MAX_DEPTH_CEILING) throw KadError.invalidMessage(`bencode: nesting deeper than ${MAX_DEPTH_CEILING}`);
  let size = 2;
  if (Array.isArray(value)) {
    for (const item of value) size += sizeOf(item, depth + 1);
    return size;
  }
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item !== undefined) size += stringSize(key.length) + sizeOf(item, depth + 1);
  }
  return size;
}

/** Bytes of a bencoded byte string of `length` bytes: `<length>:<bytes>`. */
function stringSize(length: number): number {
  return String(length).length + 1 + length;
}

/** Only plain or null-prototype objects are dictionaries: an ArrayBuffer, Map or Date is a mistake. */
function isPlainObject(value: unknown): value is BencodeDict {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}

/** The latin1 (one char per byte) string of `bytes`: the form dictionary keys take. */
export function bytesToKey(bytes: Uint8Array): string {
  let key = '';
  for (const b of bytes) key += String.fromCharCode(b);
  return key;
}

/**
 * The bytes of a latin1 key string, or of an ASCII text such as a query name.
 * @throws {KadError} `INVALID_MESSAGE` if a char code is above 255.
 */
export function keyToBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code > 0xff) throw KadError.invalidMessage(`${JSON.stringify(key)} is not latin1`);
    out[i] = code;
  }
  return out;
}

/** Longest key list sorted in place by insertion: a KRPC dict has 2–8 keys. */
const INSERTION_SORT_KEYS = 16;

/**
 * The keys of `dict` in UTF-16 code unit order (raw byte order for latin1 keys). A message's few
 * keys are sorted in place by insertion, which allocates nothing; `Array.prototype.sort` copies
 * them into a work array first, for every dict of every message.
 */
function sortedKeys(dict: object): string[] {
  const keys = Object.keys(dict);
  if (keys.length > INSERTION_SORT_KEYS) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
  return keys;
}

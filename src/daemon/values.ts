import { idToHex } from '../kad/id.js';
import type { Seq } from '../kad/items.js';
import { bencode, type BencodeValue } from '../kad/wire/bencode.js';
import type { Contact, PeerAddress } from '../kad/wire/compact.js';
import { DaemonError } from './errors.js';

/** How a value travels in JSON. */
export type ValueEncoding = 'utf8' | 'hex' | 'base64';

/** JSON-schema pieces the routes share. */
export const SCHEMAS = Object.freeze({
  id: { type: 'string', pattern: '^[0-9a-fA-F]{40}$', description: '160-bit id, 40 hex digits' },
  publicKey: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'ed25519 public key, 64 hex digits' },
  hex: { type: 'string', pattern: '^([0-9a-fA-F]{2})*$', description: 'bytes as hex' },
  seq: {
    anyOf: [
      { type: 'integer', minimum: 0 },
      { type: 'string', pattern: '^\\d{1,19}$' },
    ],
    description: 'BEP 44 sequence number (a decimal string beyond 2^53)',
  },
  encoding: { type: 'string', enum: ['utf8', 'hex', 'base64'], default: 'utf8' },
  error: {
    type: 'object',
    properties: {
      error: {
        type: 'object',
        properties: { code: { type: 'string' }, message: { type: 'string' } },
        required: ['code', 'message'],
      },
    },
    required: ['error'],
  },
} as const);

/** Bytes of a hex string already checked by a schema. */
export function hexBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The bytes of `value` in `encoding`; `INVALID_REQUEST` when base64 does not decode. */
export function decodeValue(value: string, encoding: ValueEncoding = 'utf8'): Uint8Array {
  if (encoding === 'utf8') return new TextEncoder().encode(value);
  if (encoding === 'hex') {
    if (!/^([0-9a-fA-F]{2})*$/.test(value)) throw DaemonError.invalidRequest('value is not hex (pairs of 0-9a-f)');
    return hexBytes(value);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw DaemonError.invalidRequest('value is not base64');
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/** Strict UTF-8 (a decode without `stream` keeps no state between calls: one serves all). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A found item's `v` in JSON: as text when it is UTF-8 bytes, always as hex (of its bencoding when not bytes). */
export function encodeValue(v: BencodeValue): { value: string | null; valueHex: string } {
  if (v instanceof Uint8Array) {
    let text: string | null;
    try {
      text = UTF8.decode(v);
    } catch {
      text = null;
    }
    return { value: text, valueHex: Buffer.from(v).toString('hex') };
  }
  return { value: null, valueHex: Buffer.from(bencode(v)).toString('hex') };
}

/** A seq in JSON: a number while exact, else a decimal string. */
export function seqJson(seq: Seq | undefined): number | string | null {
  if (seq === undefined) return null;
  if (typeof seq === 'number') return seq;
  return seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq.toString();
}

/** A seq from JSON (already checked by its schema). */
export function seqFromJson(seq: number | string): Seq {
  return typeof seq === 'number' ? seq : BigInt(seq);
}

/** `host:port`, IPv6 in brackets. */
export function endpointText(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A contact in JSON. */
export function contactJson(contact: Contact): { id: string; address: string } {
  return { id: idToHex(contact.id), address: endpointText(contact.host, contact.port) };
}

/** A peer in JSON. */
export function peerJson(peer: PeerAddress): string {
  return endpointText(peer.host, peer.port);
}

/**
 * Reads `host:port` (IPv6 in brackets); `name` is what the message calls it.
 * Throws `INVALID_CONFIG` (or the `code` asked for) otherwise.
 */
export function parseHostPort(
  text: string,
  name: string,
  code: 'INVALID_CONFIG' | 'INVALID_REQUEST' = 'INVALID_CONFIG',
): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) {
    throw new DaemonError(code, `${name} must be host:port (IPv6 as [::1]:port), got ${JSON.stringify(text)}`);
  }
  return { host: match[1] as string, port };
}

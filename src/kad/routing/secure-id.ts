import { isLocalAddress, unmappedIpBytes } from '../wire/ip-class.js';
import { integerInRange } from '../option-checks.js';
import { ID_BYTES, type NodeId, randomId } from '../id.js';

// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78: a 256-entry table built once (1 KiB).
const CRC32C_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer. `crc32c("123456789")` is
 * `0xe3069283`.
 */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = (CRC32C_TABLE[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const V4_MASK = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

function prefixCrc(ip: Uint8Array, rand: number): number {
  const mask = ip.length === 4 ? V4_MASK : V6_MASK;
  const masked = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) masked[i] = (ip[i] ?? 0) & (mask[i] ?? 0);
  masked[0] = (masked[0] ?? 0) | ((rand & 0x07) << 5);
  return crc32c(masked);
}

/**
 * A BEP 42 node id for the external address `host`: the first 21 bits come from
 * `crc32c((ip & mask) | r << 29)` (IPv4 mask 0x030f3fff over 4 bytes, IPv6 mask
 * 0x0103070f1f3f7fff over the first 8 bytes), the last byte is `rand` (of which `r` is the low 3
 * bits), and the rest is random.
 * @param rand the last byte of the id, 0..255; random by default.
 * @throws {KadError} `INVALID_ADDRESS` for a host that is not an IP address, `INVALID_OPTION`
 *   for a bad `rand`.
 * @see BEP 42 "Node ID restriction"
 */
export function secureId(host: string, rand?: number): NodeId {
  const id = randomId();
  const last = integerInRange('rand', rand, id[ID_BYTES - 1] ?? 0, 0, 255);
  const crc = prefixCrc(unmappedIpBytes(host), last);
  id[0] = (crc >>> 24) & 0xff;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | ((id[2] ?? 0) & 0x07);
  id[ID_BYTES - 1] = last;
  return id;
}

/**
 * Whether `id` satisfies BEP 42 for a node seen at `host`: its first 21 bits match the CRC of the
 * masked address with `r` taken from the id's last byte. Always true for exempt
 * ({@link isLocalAddress}) addresses. Never throws: a host that is not an IP address, or an id
 * that is not 20 bytes, is not secure.
 */
export function isSecureId(id: NodeId, host: string): boolean {
  if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return false;
  let ip: Uint8Array;
  try {
    if (isLocalAddress(host)) return true;
    ip = unmappedIpBytes(host);
  } catch {
    return false;
  }
  const crc = prefixCrc(ip, id[ID_BYTES - 1] ?? 0);
  return (
    id[0] === ((crc >>> 24) & 0xff) && id[1] === ((crc >>> 16) & 0xff) && ((id[2] ?? 0) & 0xf8) === ((crc >>> 8) & 0xf8)
  );
}

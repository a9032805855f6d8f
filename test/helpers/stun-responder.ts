import { createSocket, type Socket } from 'node:dgram';

/**
 * A minimal STUN binding responder (RFC 5389 header, RFC 5780 CHANGE-REQUEST) for the NAT tests,
 * run inside the `pub` namespace: `node stun-responder.js <addressA> <addressB> [portA] [portB]`.
 * It listens on both addresses × both ports and answers each Binding Request with MAPPED-ADDRESS
 * and XOR-MAPPED-ADDRESS, from the socket the request's CHANGE-REQUEST flags select (change IP:
 * the other address; change port: the other port). miniupnpd's `ext_perform_stun` needs all four
 * answers to believe its WAN address can forward ports (see ../../docs/nat.md). Prints
 * `{"event":"ready"}` once every socket is bound.
 */

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_CHANGE_REQUEST = 0x0003;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const CHANGE_IP = 0x04;
const CHANGE_PORT = 0x02;

/** Parses a Binding Request; undefined for anything else. */
export function parseBindingRequest(
  msg: Buffer,
): { transaction: Buffer; changeIp: boolean; changePort: boolean } | undefined {
  if (msg.length < 20 || msg.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  const length = msg.readUInt16BE(2);
  if (20 + length > msg.length) return undefined;
  let changeIp = false;
  let changePort = false;
  for (let at = 20; at + 4 <= 20 + length;) {
    const type = msg.readUInt16BE(at);
    const len = msg.readUInt16BE(at + 2);
    if (type === ATTR_CHANGE_REQUEST && len === 4 && at + 8 <= msg.length) {
      const flags = msg.readUInt32BE(at + 4);
      changeIp = (flags & CHANGE_IP) !== 0;
      changePort = (flags & CHANGE_PORT) !== 0;
    }
    at += 4 + Math.ceil(len / 4) * 4;
  }
  return { transaction: msg.subarray(4, 20), changeIp, changePort };
}

/** A Binding Success Response naming `address:port` as the mapped address. */
export function bindingResponse(cookieAndTransaction: Buffer, address: string, port: number): Buffer {
  const octets = address.split('.').map(Number);
  const out = Buffer.alloc(20 + 12 + 12);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt16BE(24, 2);
  cookieAndTransaction.copy(out, 4);
  // MAPPED-ADDRESS: family 1 (IPv4), port, address
  out.writeUInt16BE(ATTR_MAPPED_ADDRESS, 20);
  out.writeUInt16BE(8, 22);
  out.writeUInt16BE(1, 24);
  out.writeUInt16BE(port, 26);
  for (let i = 0; i < 4; i++) out[28 + i] = octets[i] ?? 0;
  // XOR-MAPPED-ADDRESS: the same, xored with the magic cookie
  out.writeUInt16BE(ATTR_XOR_MAPPED_ADDRESS, 32);
  out.writeUInt16BE(8, 34);
  out.writeUInt16BE(1, 36);
  out.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 38);
  const cookie = Buffer.alloc(4);
  cookie.writeUInt32BE(MAGIC_COOKIE);
  for (let i = 0; i < 4; i++) out[40 + i] = (octets[i] ?? 0) ^ (cookie[i] ?? 0);
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const [addressA, addressB, portA = '3478', portB = '3479'] = argv;
  if (addressA === undefined || addressB === undefined) {
    throw new Error('usage: stun-responder <addressA> <addressB> [portA] [portB]');
  }
  const addresses = [addressA, addressB];
  const ports = [Number(portA), Number(portB)];
  const sockets = new Map<string, Socket>();
  const key = (a: number, p: number): string => `${a}/${p}`;
  await Promise.all(
    addresses.flatMap((address, a) =>
      ports.map(
        (port, p) =>
          new Promise<void>((resolve, reject) => {
            const socket = createSocket('udp4');
            socket.once('error', reject);
            socket.bind(port, address, () => {
              socket.off('error', reject);
              sockets.set(key(a, p), socket);
              socket.on('message', (msg, from) => {
                const request = parseBindingRequest(msg);
                if (request === undefined) return;
                const replyFrom = sockets.get(key(request.changeIp ? 1 - a : a, request.changePort ? 1 - p : p));
                replyFrom?.send(bindingResponse(msg.subarray(4, 20), from.address, from.port), from.port, from.address);
              });
              resolve();
            });
          }),
      ),
    ),
  );
  process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
  // runs until the harness kills it (its `timeout` bounds it as well)
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

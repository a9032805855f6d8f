import type { BencodeDict, BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import { Rpc, type RpcOptions } from '../../../../src/kad/rpc/rpc.js';
import type { RemoteInfo } from '../../../../src/kad/transport/transport.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';
import {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryTransport,
} from '../../../../src/testing/memory-network.js';

/** A null-prototype dict, as the codec produces. */
export const dict = (entries: Record<string, BencodeValue>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);

/** A 20-byte node id filled with `n`. */
export const nodeId = (n: number): Uint8Array => new Uint8Array(20).fill(n);

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A peer that speaks raw KRPC, to script replies (or silence) exactly. */
export interface RawPeer {
  readonly transport: MemoryTransport;
  readonly received: { readonly message: KrpcMessage; readonly from: RemoteInfo; readonly at: number }[];
  send(message: KrpcMessage, to: RemoteInfo): void;
}

export function rawPeer(network: MemoryNetwork, clock: ManualClock, host?: string): RawPeer {
  const transport = network.createTransport(host === undefined ? {} : { host });
  const received: RawPeer['received'] = [];
  transport.on('message', ({ data, from }) => received.push({ message: decodeMessage(data), from, at: clock.now() }));
  return { transport, received, send: (message, to) => transport.send(encodeMessage(message), to) };
}

/** Whether `promise` has settled, and how. */
export function track<T>(promise: Promise<T>): {
  state: 'pending' | 'resolved' | 'rejected';
  value?: T;
  error?: unknown;
} {
  const tracked: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => {
      tracked.state = 'resolved';
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.state = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}

/** Two RPC endpoints `a` (client under test) and `b` (answers pings) on a 10 ms network. */
export function setup(options: RpcOptions = {}, network: MemoryNetworkOptions = {}) {
  const clock = new ManualClock();
  const net = new MemoryNetwork({ latencyMs: 10, ...network }, { clock });
  const a = new Rpc(options, { transport: net.createTransport(), clock });
  const b = new Rpc({}, { transport: net.createTransport(), clock });
  b.setQueryHandler(() => dict({ id: nodeId(2) }));
  return { clock, network: net, a, b };
}

/**
 * The part of `bittorrent-dht` (plain JS, no bundled types) that the interop tests and the
 * benchmark use. Buffers are Node.js Buffers.
 */
declare module 'bittorrent-dht' {
  import type { Socket } from 'node:dgram';
  import { EventEmitter } from 'node:events';

  interface PeerEndpoint {
    host: string;
    port: number;
  }

  interface DhtOptions {
    bootstrap?: false | string[];
    host?: string;
    nodeId?: Buffer;
    /** ed25519 verification for mutable items: (signature, message, publicKey) → valid. */
    verify?: (signature: Buffer, message: Buffer, publicKey: Buffer) => boolean;
    timeout?: number;
    k?: number;
    concurrency?: number;
    /**
     * The UDP socket, passed through k-rpc to k-rpc-socket (its documented `socket` option);
     * without it k-rpc-socket creates a `udp4` socket.
     */
    socket?: Socket;
  }

  interface PutOptions {
    v: Buffer;
    k?: Buffer;
    seq?: number;
    salt?: Buffer;
    cas?: number;
    sign?: (message: Buffer) => Buffer;
  }

  export interface GetResult {
    v: Buffer;
    id: Buffer;
    k?: Buffer;
    sig?: Buffer;
    seq?: number;
    salt?: Buffer;
  }

  export interface KrpcReply {
    t: Buffer;
    y: Buffer;
    r?: Record<string, Buffer | number | Buffer[] | undefined>;
    e?: [number, Buffer];
  }

  interface KrpcError extends Error {
    code?: number | string;
  }

  /** k-rpc-socket: one datagram per `query` call, no retransmissions (a query times out after `timeout`). */
  interface KRpcSocket {
    inflight: number;
    query(
      peer: PeerEndpoint,
      message: { q: string; a: Record<string, unknown> },
      callback?: (error: KrpcError | null, reply: KrpcReply | null, peer: PeerEndpoint) => void,
    ): number;
  }

  interface KRpc {
    id: Buffer;
    socket: KRpcSocket;
    query(
      peer: PeerEndpoint,
      message: { q: string; a: Record<string, unknown> },
      callback: (error: KrpcError | null, reply: KrpcReply | null) => void,
    ): number;
    nodes: { toArray(): Array<{ id: Buffer; host: string; port: number }>; count(): number };
  }

  export default class DHT extends EventEmitter {
    constructor(options?: DhtOptions);
    readonly nodeId: Buffer;
    readonly listening: boolean;
    readonly destroyed: boolean;
    readonly _rpc: KRpc;
    /** Items this node stores (and immutable items it put itself), by hex target. */
    readonly _values: { get(key: string): unknown };
    /** Set once the start-up lookup of its own id finished (then `ready` is emitted). */
    readonly ready?: boolean;
    listen(port: number, host: string, callback?: () => void): void;
    address(): { address: string; family: string; port: number };
    addNode(node: { host: string; port: number; id?: Buffer }): void;
    put(options: PutOptions, callback: (error: Error | null, hash: Buffer, count: number) => void): Buffer;
    get(
      key: Buffer,
      options: { verify?: DhtOptions['verify']; salt?: Buffer; cache?: boolean },
      callback: (error: Error | null, result: GetResult | null) => void,
    ): void;
    announce(infoHash: Buffer, port: number, callback: (error: Error | null) => void): void;
    lookup(infoHash: Buffer, callback: (error: Error | null, count?: number) => void): () => void;
    destroy(callback?: () => void): void;
    /** The routing table's contacts (and stored values): what an application saves to restart from. */
    toJSON(): { nodes: PeerEndpoint[]; values: Record<string, unknown> };
  }
}

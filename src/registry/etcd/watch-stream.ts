import {
  type ChannelOptions,
  type Client,
  type ClientDuplexStream,
  credentials,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import { RegistryError } from '../errors.js';

/** A key and its value in a watch event, as {@link WatchChannels} decode it. */
export interface StreamKeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly mod_revision: number;
}

/** One change in a watch response. */
export interface StreamEvent {
  readonly type: 'Put' | 'Delete';
  readonly kv: StreamKeyValue;
}

/** A message of etcd's watch stream (the fields a feed reads). */
export interface StreamResponse {
  readonly header: { readonly revision: number };
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compact_revision: number;
  readonly cancel_reason: string;
  readonly events: readonly StreamEvent[];
}

/** A request on etcd's watch stream: open a watch, or ask for a progress report. */
export type StreamRequest =
  | {
      readonly create_request: {
        readonly key: Buffer;
        readonly range_end: Buffer;
        readonly start_revision: number;
        readonly fragment: boolean;
      };
    }
  | { readonly progress_request: Record<string, never> };

export type WatchStream = ClientDuplexStream<StreamRequest, StreamResponse>;

const int64 = (id: number) => ({ type: 'int64', id });
const bytes = (id: number) => ({ type: 'bytes', id });
const bool = (id: number) => ({ type: 'bool', id });

/**
 * etcd's `Watch` service (etcd's `rpc.proto` and `kv.proto`: same package, names and field
 * numbers), declaring only the fields a feed sends and reads: the decoder skips the others
 * (a key-value's create revision, version and lease; a header's cluster, member and term)
 * instead of building them.
 */
const WATCH_PROTOCOL: Parameters<typeof fromJSON>[0] = {
  nested: {
    etcdserverpb: {
      nested: {
        Watch: {
          methods: {
            Watch: {
              requestType: 'WatchRequest',
              requestStream: true,
              responseType: 'WatchResponse',
              responseStream: true,
              comment: '',
            },
          },
        },
        WatchRequest: {
          oneofs: { request_union: { oneof: ['create_request', 'progress_request'] } },
          fields: {
            create_request: { type: 'WatchCreateRequest', id: 1 },
            progress_request: { type: 'WatchProgressRequest', id: 3 },
          },
        },
        WatchCreateRequest: {
          fields: { key: bytes(1), range_end: bytes(2), start_revision: int64(3), fragment: bool(8) },
        },
        WatchProgressRequest: { fields: {} },
        ResponseHeader: { fields: { revision: int64(3) } },
        WatchResponse: {
          fields: {
            header: { type: 'ResponseHeader', id: 1 },
            created: bool(3),
            canceled: bool(4),
            compact_revision: int64(5),
            cancel_reason: { type: 'string', id: 6 },
            events: { rule: 'repeated', type: 'Event', id: 11 },
          },
        },
        Event: {
          fields: { type: { type: 'EventType', id: 1 }, kv: { type: 'KeyValue', id: 2 } },
          nested: { EventType: { values: { Put: 0, Delete: 1 } } },
        },
        KeyValue: { fields: { key: bytes(1), mod_revision: int64(3), value: bytes(5) } },
      },
    },
  },
};

let watchService: ServiceClientConstructor | undefined;

/**
 * The client class of {@link WATCH_PROTOCOL}, with 64-bit integers decoded as numbers: etcd3's
 * own clients decode every int64 into a decimal string (four per event). Revisions stay far
 * below 2^53.
 */
function service(): ServiceClientConstructor {
  if (watchService === undefined) {
    const definition = fromJSON(WATCH_PROTOCOL, {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const packages = loadPackageDefinition(definition) as unknown as {
      etcdserverpb: { Watch: ServiceClientConstructor };
    };
    watchService = packages.etcdserverpb.Watch;
  }
  return watchService;
}

/**
 * One gRPC client of etcd's watch service per member (created on first use, over a channel of
 * its own: a watch knows, and can leave, its member), closed together.
 */
export class WatchChannels {
  readonly #hosts: readonly string[];
  readonly #channelOptions: ChannelOptions;
  readonly #clients: (Client | undefined)[] = [];
  #closed = false;

  /**
   * @param hosts member URLs (`http://` or `https://`: TLS with the system's roots)
   * @param channelOptions gRPC channel options (the registry's receive limit)
   */
  constructor(hosts: readonly string[], channelOptions: ChannelOptions) {
    this.#hosts = hosts;
    this.#channelOptions = channelOptions;
  }

  /** A new watch stream to member `i`; throws `CLOSED` once {@link close} ran. */
  open(i: number): WatchStream {
    if (this.#closed) throw RegistryError.closed();
    let client = this.#clients[i];
    if (client === undefined) {
      const url = this.#hosts[i] as string;
      const channel = url.startsWith('https:') ? credentials.createSsl() : credentials.createInsecure();
      const Watch = service();
      client = new Watch(url.replace(/^https?:\/\//, ''), channel, this.#channelOptions);
      this.#clients[i] = client;
    }
    return (client as unknown as { watch(): WatchStream }).watch();
  }

  /** Closes every channel; open streams end with an error. */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients) client?.close();
  }
}

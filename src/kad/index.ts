// nautilus/kad: the Mainline DHT node and its building blocks. Explicit, curated exports only.

// time (injected everywhere)
export type { Clock, Milliseconds, Timer } from '../core/clock.js';
export { systemClock } from '../core/clock.js';

// the node
export type {
  CallOptions,
  FindNodeResult,
  GetItemResult,
  GetPeersResult,
  ImmutableItem,
  KadFamilyStats,
  KadNode,
  KadNodeStats,
} from './node/types.js';
export { createNode } from './node/node.js';
export type { KadNodeOptions, KadNodeStorageOptions } from './node/options.js';
export { DEFAULT_KAD_NODE_OPTIONS, DEFAULT_KAD_NODE_STORAGE_OPTIONS } from './node/options.js';

// DHT operations across the network, and joining it
export type {
  AnnounceOptions,
  AnnounceResult,
  BootstrapRetryEvent,
  DhtCallOptions,
  GetMutableOptions,
  GetOptions,
  GetResult,
  KadNodeEvents,
  LookupQueryOptions,
  PutItem,
  PutMutableOptions,
  PutOptions,
  PutResult,
  StoreFailure,
} from './node/operation-types.js';
export type { BootstrapEntry, HostResolver } from './node/bootstrap-entries.js';

// saved state across restarts (`stateDir` / `stateStore`)
export type { StateDiscardedEvent, StateErrorEvent, StateRestoredEvent } from './node/operation-types.js';
export type { StateDiscardReason } from './node/state-format.js';
export { STATE_FORMAT, STATE_VERSION } from './node/state-format.js';
export type { StateStore, StateStoreCallOptions } from './node/state-store.js';
export { FileStateStore, STATE_FILE_NAME } from './node/state-store.js';
export { DEFAULT_KAD_NODE_STATE_OPTIONS } from './node/persistence.js';
// what a node published and keeps alive (republished by its maintenance, saved by persistence)
export type {
  AnnouncePublication,
  AnnouncePublicationState,
  ItemPublication,
  ItemPublicationState,
  Publication,
  PublicationsDeps,
  PublicationsOptions,
  PublicationsState,
} from './node/publications.js';
export { DEFAULT_PUBLICATIONS_OPTIONS, Publications } from './node/publications.js';
export type { MaintenanceOptions } from './node/maintenance-options.js';
export type {
  HolePunchOptions,
  PunchFailureReason,
  PunchOptions,
  PunchResult,
  PunchTarget,
} from './node/hole-punch-options.js';
export { DEFAULT_HOLE_PUNCH_OPTIONS } from './node/hole-punch-options.js';
export type { NatMappingBehaviour } from './routing/nat-mapping.js';
export type {
  FirewallChangedEvent,
  MaintenanceStats,
  NetworkLostEvent,
  NetworkRestoredEvent,
  RepublishFailedEvent,
} from './node/maintenance-types.js';
export { DEFAULT_MAINTENANCE_OPTIONS } from './node/maintenance-options.js';
export { MAINLINE_BOOTSTRAP } from './node/bootstrap-entries.js';

// reachability behind NATs: the conclusion and its evidence, port mapping (UPnP-IGD, NAT-PMP)
export type {
  DialBackOutcome,
  Reachability,
  ReachabilityChangedEvent,
  ReachabilityReport,
} from './node/reachability-types.js';
export type {
  PortMapGrant,
  PortMapper,
  PortMapperFactory,
  PortMappingMode,
  PortMappingProtocol,
  PortMapRequest,
} from './nat/port-mapper.js';
export type { PortMappingOptions, PortMappingState } from './nat/port-mapping.js';
export { DEFAULT_PORT_MAPPING_OPTIONS } from './nat/port-mapping.js';
export { createNatApiMapper } from './nat/nat-api-mapper.js';
export { NAUTILUS_PROBE, NAUTILUS_REACH } from './wire/nautilus-reach.js';

// iterative lookups (Kademlia §2.3): events, options, and the engine for custom compositions
export type {
  FoundItem,
  LookupDoneEvent,
  LookupEnd,
  LookupErrorEvent,
  LookupEvent,
  LookupMethod,
  LookupPeersEvent,
  LookupQueryEvent,
  LookupResponseEvent,
  LookupResult,
  LookupTimeoutEvent,
  LookupValueEvent,
} from './lookup/events.js';
export type { LookupOptions, ResolvedLookupOptions } from './lookup/options.js';
export { DEFAULT_LOOKUP_OPTIONS, resolveLookupOptions, softDeadline } from './lookup/options.js';
export type { LookupInit, LookupLatency, LookupQuery } from './lookup/lookup-init.js';
export { drainLookup, Lookup } from './lookup/lookup.js';

// errors
export type { KadErrorCode, KadErrorDetails } from './errors.js';
export { isKadError, KadError, WireError } from './errors.js';

// ids (BEP 5), secure ids and external address voting (BEP 42)
export type { NodeId } from './id.js';
export {
  bucketIndex,
  bytesEqual,
  compareDistance,
  ID_BYTES,
  idFromHex,
  idToHex,
  isNodeId,
  randomId,
  xor,
} from './id.js';
export { isSecureId, secureId } from './routing/secure-id.js';
export { isLocalAddress } from './wire/ip-class.js';
export type { ExternalAddressVoteOptions } from './routing/external-address.js';
export { DEFAULT_EXTERNAL_ADDRESS_VOTE_OPTIONS, ExternalAddressVote } from './routing/external-address.js';

// BEP 44 items
export type { ItemKeyPair, MutableItem, Seq } from './items.js';
export {
  compareSeq,
  createMutableItem,
  generateKeyPair,
  immutableTarget,
  isSeq,
  keyPairFromSeed,
  MAX_SALT_BYTES,
  MAX_SEQ,
  MAX_VALUE_BYTES,
  mutableTarget,
  signatureBuffer,
  signMutable,
  verifyMutable,
} from './items.js';

// wire format: bencode, KRPC, compact encodings
export type { BdecodeLimits, BencodeDict, BencodeValue } from './wire/bencode.js';
export { bdecode, bencode } from './wire/bencode.js';
export type { KrpcErrorMessage, KrpcMessage, KrpcQuery, KrpcResponse } from './wire/krpc.js';
export type { DecodeMessageOptions } from './wire/krpc.js';
export { decodeMessage, encodeMessage, MAX_MESSAGE_BYTES } from './wire/krpc.js';
export type { AddressFamily, Contact, PeerAddress } from './wire/compact.js';
export {
  COMPACT_NODE_V4_BYTES,
  COMPACT_NODE_V6_BYTES,
  decodeNodes,
  decodePeer,
  encodeNodes,
  encodePeer,
} from './wire/compact.js';
export type { Want } from './wire/krpc-args.js';

// routing table (mechanism; the node applies the insertion policy)
export type {
  AddResult,
  BucketFullEvent,
  ClosestOptions,
  ContactState,
  NodeRemovedEvent,
  RoutingContact,
  RoutingTableDeps,
  RoutingTableEvents,
  RoutingTableOptions,
} from './routing/routing-types.js';
export { RoutingTable } from './routing/routing-table.js';
export { DEFAULT_ROUTING_TABLE_OPTIONS } from './routing/routing-types.js';

// transports
export type {
  Endpoint,
  InboundDatagram,
  RemoteInfo,
  Transport,
  TransportErrorEvent,
  TransportEvents,
  TransportStats,
} from './transport/transport.js';
export { MAX_DATAGRAM_BYTES, MAX_UDP_PAYLOAD_BYTES } from './transport/transport.js';

export type { UdpTransport, UdpTransportOptions } from './transport/udp-transport.js';
export { createUdpTransport } from './transport/udp-transport.js';

// RPC layer and its limits
export type {
  MethodCounts,
  QueryContext,
  QueryHandler,
  QueryOptions,
  QueryResult,
  RpcDeps,
  RpcOptions,
  RpcStats,
} from './rpc/rpc.js';
export { DEFAULT_RPC_OPTIONS, Rpc } from './rpc/rpc.js';
export type { InFlightLimiterOptions } from './rpc/in-flight.js';
export type { InboundLimiterOptions, OutboundPacerOptions } from './rpc/rate-limit.js';
export type { RttEstimatorOptions } from './rpc/rtt.js';

// storage, write tokens and query handlers (for custom compositions)
export type {
  GetPeersOptions,
  KadStorageDeps,
  KadStorageOptions,
  KadStorageUsage,
  MutablePutResult,
  StoredImmutableItem,
  StoredItem,
  StoredMutableItem,
} from './serve/storage.js';
export { DEFAULT_KAD_STORAGE_OPTIONS, KadStorage } from './serve/storage.js';
export type { WriteTokenDeps, WriteTokenOptions } from './serve/tokens.js';
export { DEFAULT_WRITE_TOKEN_OPTIONS, WriteTokens } from './serve/tokens.js';
export type {
  HandlerOutcome,
  IncomingQuery,
  QueryHandlersDeps,
  QueryHandlersOptions,
  QuerySource,
  RespondContext,
} from './serve/handlers.js';
export { DEFAULT_QUERY_HANDLERS_OPTIONS, QueryHandlers } from './serve/handlers.js';
export type { BudgetUsage } from './serve/storage-budget.js';
export type { StorageGateStats } from './serve/storage-gate.js';

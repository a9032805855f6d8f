export { EtcdRegistry } from './etcd-registry.js';
export type { EtcdSetOptions } from './etcd-registry.js';
export type { CampaignOptions, Leader, LeaderChange, LeadershipHandle } from './election.js';
export type { Fence } from './fence.js';
export type { LockHandle, LockOptions } from './lock.js';
export type { ObserveOptions } from './observe.js';
export type { EtcdRegistryDeps, EtcdRegistryOptions, ResolvedEtcdRegistryOptions } from './options.js';
export { DEFAULT_ETCD_REGISTRY_OPTIONS } from './options.js';

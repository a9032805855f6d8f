export { EtcdRegistry } from './etcd-registry.js';
export type { EtcdSetOptions } from './etcd-registry.js';
export type { Fence, LockHandle, LockOptions } from './lock.js';
export type { EtcdRegistryDeps, EtcdRegistryOptions, ResolvedEtcdRegistryOptions } from './options.js';
export { DEFAULT_ETCD_REGISTRY_OPTIONS } from './options.js';

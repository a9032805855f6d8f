import { after, before } from 'node:test';
import { type EtcdClusterHandle, startEtcdCluster } from '../../../src/testing/index.js';
import { etcdConformance } from '../../helpers/etcd-conformance.js';

let cluster: EtcdClusterHandle;

before(async () => {
  cluster = await startEtcdCluster(3);
});

after(async () => {
  await cluster?.stop();
});

// three members on Raft: requests spread over them, reads linearizable through the leader
etcdConformance('EtcdRegistry (3-member cluster)', () => cluster);

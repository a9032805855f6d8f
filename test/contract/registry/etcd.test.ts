import { after, before } from 'node:test';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';
import { etcdConformance } from '../../helpers/etcd-conformance.js';

let server: EtcdClusterHandle;

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  await server?.stop();
});

// one member for the file; every registry gets its own key namespace
etcdConformance('EtcdRegistry (one member)', () => server);

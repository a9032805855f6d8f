import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// The package imports itself by name through its `exports` map, as a user would (a plain string
// specifier, so type resolution does not depend on a previous build).
const load = (specifier: string): Promise<Record<string, unknown>> => import(specifier);

describe('package exports', () => {
  it('exposes the registry from nautilus and nautilus/registry', async () => {
    const root = await load('nautilus');
    const registry = await load('nautilus/registry');
    for (const name of ['MemoryRegistry', 'CodecRegistry', 'RegistryError', 'jsonCodec', 'systemClock']) {
      assert.ok(name in root, `nautilus exports ${name}`);
      assert.ok(name in registry, `nautilus/registry exports ${name}`);
    }
    assert.equal(root.MemoryRegistry, registry.MemoryRegistry);
  });

  it('exposes the test helpers from nautilus/testing and the DHT from nautilus/kad', async () => {
    const testing = await load('nautilus/testing');
    assert.equal(typeof testing.ManualClock, 'function');
    assert.equal(typeof testing.registryConformanceSuite, 'function');
    const kad = await load('nautilus/kad');
    assert.ok('systemClock' in kad);
  });

  it('does not expose internal modules', async () => {
    await assert.rejects(load('nautilus/src/registry/memory/memory-registry.js'), {
      code: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });
});

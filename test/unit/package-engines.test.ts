import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import semver from 'semver';

// The installed tree, as the lockfile records it: every package that ships with nautilus (not a
// dev dependency) must run on every Node release nautilus's own `engines` admits.
const repo = new URL('../../../', import.meta.url); // this file runs as dist/test/unit/*.js
const read = (path: string): string => readFileSync(new URL(path, repo), 'utf8');
const ours = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
const lock = JSON.parse(read('package-lock.json')) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
};

describe('package engines', () => {
  it('ships only dependencies whose engines admit the oldest Node nautilus supports, and Node 24', () => {
    const floor = semver.minVersion(ours)?.version;
    assert.ok(floor !== undefined, `engines.node ${ours} has a lowest version`);
    const refused = Object.entries(lock.packages)
      .filter(([path, info]) => path !== '' && info.dev !== true)
      .flatMap(([path, info]) => {
        const range = Array.isArray(info.engines) ? undefined : info.engines?.node;
        if (range === undefined) return [];
        return [floor, '24.0.0']
          .filter((node) => !semver.satisfies(node, range))
          .map((node) => `${path}@${info.version ?? '?'} needs node ${range}, not ${node}`);
      });
    assert.deepEqual(refused, []);
  });
});

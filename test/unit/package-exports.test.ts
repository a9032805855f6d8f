import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

// What each entry point must offer is read from the documentation (the README's "Entry points"
// section and the imports of its examples and of docs/), never from the modules themselves. The
// package imports itself by name through its `exports` map, as a user would.
const load = (specifier: string): Promise<Record<string, unknown>> => import(specifier);

const repo = new URL('../../../', import.meta.url); // this file runs as dist/test/unit/*.js
const read = (path: string): string => readFileSync(new URL(path, repo), 'utf8');
const readme = read('README.md');
const exportsMap = (JSON.parse(read('package.json')) as { exports: Record<string, string | { types?: string }> })
  .exports;

const IDENTIFIER = /`([A-Za-z_$][\w$]*)`/g;
const namesIn = (text: string): string[] => [...text.matchAll(IDENTIFIER)].map((m) => m[1] as string);

/** The README's "Entry points" section: each bullet `**\`nautilus…\`**` with the value names it lists. */
function documentedEntryPoints(): { values: Map<string, string[]>; rootTypes: string[] } {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Entry points\n'));
  assert.ok(section !== undefined, 'README.md has an "Entry points" section');
  const values = new Map<string, string[]>();
  for (const bullet of section.split(/^- /m).slice(1)) {
    const match = /^\*\*`(nautilus[^`]*)`\*\*([\s\S]*)/.exec(bullet.split(/\n\s*\n/)[0] as string);
    if (match !== null) values.set(match[1] as string, namesIn(match[2] as string));
  }
  const types = /^The root's types: ([\s\S]*?)\n\n/m.exec(section);
  assert.ok(types !== null, 'the section lists the root\'s types ("The root\'s types: …")');
  return { values, rootTypes: namesIn(types[1] as string) };
}

/** Every `import { … } from 'nautilus…'` in the README and docs/*.md: what the examples use. */
function exampleImports(): { specifier: string; name: string; type: boolean }[] {
  const docs = readdirSync(new URL('docs/', repo))
    .filter((f) => f.endsWith('.md'))
    .map((f) => read(`docs/${f}`));
  const out: { specifier: string; name: string; type: boolean }[] = [];
  for (const text of [readme, ...docs]) {
    for (const m of text.matchAll(/import\s*(type\s+)?\{([^}]*)\}\s*from\s*'(nautilus(?:\/[\w/-]+)?)'/g)) {
      for (const entry of (m[2] as string).split(',').map((e) => e.trim())) {
        if (entry === '') continue;
        const type = m[1] !== undefined || entry.startsWith('type ');
        const name = entry.replace(/^type\s+/, '').split(/\s+as\s+/)[0] as string;
        out.push({ specifier: m[3] as string, name, type });
      }
    }
  }
  return out;
}

/** Names (values and types) exported by the declaration file of `specifier`, per package.json. */
function declaredNames(specifier: string): Set<string> {
  const entry = exportsMap[specifier.replace(/^nautilus/, '.')];
  assert.ok(typeof entry === 'object' && entry.types !== undefined, `${specifier} has types in package.json`);
  const names = new Set<string>();
  for (const block of read(entry.types).matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const item of (block[1] as string).split(',').map((e) => e.trim())) {
      if (item !== '')
        names.add(
          item
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)
            .at(-1) as string,
        );
    }
  }
  return names;
}

const { values: documented, rootTypes } = documentedEntryPoints();

describe('package exports', () => {
  it('documents every entry point of package.json, and only those', () => {
    const subpaths = Object.keys(exportsMap)
      .filter((key) => key !== './package.json')
      .map((key) => key.replace(/^\./, 'nautilus'));
    assert.deepEqual([...documented.keys()].sort(), subpaths.sort());
  });

  for (const [specifier, names] of documented) {
    it(`exports every value the README lists for ${specifier}`, async () => {
      assert.ok(names.length > 0);
      const module = await load(specifier);
      const missing = names.filter((name) => module[name] === undefined);
      assert.deepEqual(missing, [], `${specifier} lacks ${missing.join(', ')}`);
    });
  }

  it('exports exactly the documented values from the root, nautilus (a curated surface)', async () => {
    const root = await load('nautilus');
    assert.deepEqual(Object.keys(root).sort(), [...(documented.get('nautilus') ?? [])].sort());
  });

  it("exports every type the README lists for the root from the root's declarations", () => {
    const declared = declaredNames('nautilus');
    assert.ok(rootTypes.length > 0);
    assert.deepEqual(
      rootTypes.filter((name) => !declared.has(name)),
      [],
    );
  });

  it('offers what the examples of the README and docs/ import, from where they import it', async () => {
    const imports = exampleImports();
    assert.ok(imports.length >= 5, 'the README has import examples');
    const missing: string[] = [];
    for (const { specifier, name, type } of imports) {
      const found = type ? declaredNames(specifier).has(name) : (await load(specifier))[name] !== undefined;
      if (!found) missing.push(`${type ? 'type ' : ''}${name} from ${specifier}`);
    }
    assert.deepEqual(missing, []);
  });

  it('gives the same objects through the root and through the subpath of their half', async () => {
    const [root, kad, registry] = await Promise.all([
      load('nautilus'),
      load('nautilus/kad'),
      load('nautilus/registry'),
    ]);
    for (const name of ['createNode', 'KadError', 'idToHex', 'immutableTarget'])
      assert.equal(root[name], kad[name], name);
    for (const name of ['MemoryRegistry', 'ShardedRegistry', 'RegistryError', 'jsonCodec']) {
      assert.equal(root[name], registry[name], name);
    }
    assert.equal(root['systemClock'], kad['systemClock']);
  });

  it('does not expose internal modules', async () => {
    await assert.rejects(load('nautilus/src/registry/memory/memory-registry.js'), {
      code: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });
});

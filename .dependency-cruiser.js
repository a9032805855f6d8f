// @ts-check
// The layering of src/, checked by `npm run lint` (dependency-cruiser; see shared design, "The house").
//   cli → daemon → kad → registry → core; testing may import anything, and nothing in src/ imports it.
// Every rule names what a folder MAY import, so an import of anything else (a new folder too) fails.

/** The registry's contract: what kad may use of the registry (not memory/, sharded/, redis/). */
const REGISTRY_CONTRACT = '^src/registry/(registry|errors|events|codec|validation)\\.ts$';

/**
 * Inside kad, the floors from the ground up: a file may import only from its own floor or below.
 * Each name is a file (`errors` → src/kad/errors.ts) or a folder (`wire` → src/kad/wire/).
 * `option-checks` (constructor option validation throwing KadError) stands beside `errors`.
 * The bencode codec (`wire/bencode`, which imports only `errors`) sits below `items`: a BEP 44
 * target and signature are computed over bencoded bytes; the rest of `wire/` sits above `items`.
 */
const KAD_FLOORS = [
  ['errors', 'option-checks'],
  ['id'],
  ['wire/bencode'],
  ['items'],
  ['wire'],
  ['transport'],
  ['rpc', 'routing', 'nat'],
  ['serve', 'lookup'],
  ['node'],
  ['index'],
];

/** @param {readonly string[]} names */
const kadPaths = (names) => `^src/kad/(${names.join('|')})(\\.ts$|/)`;

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const kadFloorRules = KAD_FLOORS.slice(0, -1).map((floor, i) => {
  const below = KAD_FLOORS.slice(0, i + 1).flat();
  const above = KAD_FLOORS.slice(i + 1).flat();
  return {
    name: `kad-floor-${floor.join('-')}`,
    comment: `src/kad/{${floor.join(',')}} may import only from kad's ${below.join(', ')} (not ${above.join(', ')})`,
    severity: 'error',
    from: { path: kadPaths(floor) },
    to: { path: kadPaths(above), pathNot: kadPaths(below) },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycles anywhere in src/ (type-only imports count: they tie the modules together too)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-nothing',
      comment: 'src/core holds primitives both halves use: it imports nothing of the project',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'registry-imports-only-core',
      comment: 'src/registry imports only src/core (and itself)',
      severity: 'error',
      from: { path: '^src/registry/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/registry/'] },
    },
    {
      name: 'kad-imports-core-and-registry-contract',
      comment:
        'src/kad imports src/core and the registry contract (registry, errors, events, codec, validation); ' +
        'of the backends only registry/memory/, and only from the node facade (rule kad-node-facade-creates-default-store)',
      severity: 'error',
      from: { path: '^src/kad/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/kad/', REGISTRY_CONTRACT, '^src/registry/memory/'] },
    },
    {
      name: 'kad-node-facade-creates-default-store',
      comment:
        'THE ONE EXCEPTION to kad using only the registry contract: the node facade src/kad/node/ may import ' +
        'registry/memory/ to create the default store; no other kad file imports a backend',
      severity: 'error',
      from: { path: '^src/kad/', pathNot: '^src/kad/node/' },
      to: { path: '^src/registry/memory/' },
    },
    {
      name: 'daemon-imports-kad-registry-core',
      comment: 'src/daemon composes a node and a registry: it imports src/kad, src/registry, src/core',
      severity: 'error',
      from: { path: '^src/daemon/' },
      to: { path: '^src/', pathNot: ['^src/(core|registry|kad|daemon)/'] },
    },
    {
      name: 'cli-imports-daemon-kad-registry-core',
      comment:
        'src/cli imports src/daemon, src/kad, src/registry, src/core; of src/testing only the testnet builder, ' +
        'from the testnet command (rule cli-testnet-command-uses-testnet-builder), and the simulator, from the ' +
        'simulate command',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: {
        path: '^src/',
        pathNot: ['^src/(core|registry|kad|daemon|cli)/', '^src/testing/testnet\\.ts$', '^src/testing/simulate/'],
      },
    },
    {
      name: 'root-export-imports-kad-registry-core',
      comment: 'src/index.ts (the package root export) offers the library: src/kad, src/registry, src/core',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/(core|registry|kad|daemon)/'] },
    },
    {
      name: 'nothing-imports-testing',
      comment:
        'src/testing may import anything and nothing in src/ imports it; the exceptions are the CLI testnet ' +
        'command (src/cli/testnet.ts), a demo that runs the testnet builder src/testing/testnet.ts, and the CLI ' +
        'simulate command (src/cli/simulate.ts), which runs the simulator src/testing/simulate/',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/testing/', '^src/cli/testnet\\.ts$', '^src/cli/simulate\\.ts$'] },
      to: { path: '^src/testing/' },
    },
    ...kadFloorRules,
    {
      name: 'no-dev-dependencies-in-src',
      comment: 'what src/ imports at run time ships to users: devDependencies are for tests and benchmarks',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves (else the rules above would silently check nothing)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a type-only import ties a layer to another as much as a value import
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

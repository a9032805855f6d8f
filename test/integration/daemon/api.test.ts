import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createLogger,
  isDaemonError,
  startDaemon,
  tokenPath,
  type Daemon,
  type DaemonConfig,
} from '../../../src/daemon/index.js';
import { createTestnet, type Testnet } from '../../../src/testing/index.js';
import { testDaemonConfig } from '../../helpers/daemon-config.js';

/** An API answer: an error body or the fields of a result. */
interface Body {
  readonly error: { readonly code: string; readonly message: string };
  readonly [field: string]: unknown;
}

describe('daemon HTTP API', () => {
  let testnet: Testnet;
  let daemon: Daemon;
  let stateDir: string;

  const config = (overrides: Partial<DaemonConfig> = {}): DaemonConfig => testDaemonConfig(stateDir, overrides);
  const call = async (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token = daemon.token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    const response = await fetch(`${daemon.url}${path}`, { ...rest, headers });
    const text = await response.text();
    return { status: response.status, text, json: () => JSON.parse(text) as Body };
  };
  const post = (path: string, body: unknown) =>
    call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'nautilus-api-'));
    testnet = await createTestnet({ transport: 'udp', nodes: 6 });
    const entry = testnet.nodes[0]!.address();
    daemon = await startDaemon(config({ bootstrap: `${entry.host}:${entry.port}` }), {
      logger: createLogger('silent'),
      api: { bodyLimit: 4096 },
    });
    await daemon.node.ready;
  });
  after(async () => {
    await daemon?.close();
    await testnet?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('makes the API token on first start into the state dir, readable by its owner only', async () => {
    const info = await stat(tokenPath(stateDir));
    assert.equal(info.mode & 0o777, 0o600);
    assert.match(daemon.token, /^[0-9a-f]{64}$/);
  });

  it('answers /healthz without a token and every other path only with the right one', async () => {
    assert.deepEqual((await call('/healthz', { token: null })).json(), { status: 'ok' });
    const missing = await call('/api/stats', { token: null });
    assert.equal(missing.status, 401);
    assert.equal(missing.json().error.code, 'UNAUTHORIZED');
    assert.match(missing.json().error.message, /missing bearer token/);
    const wrong = await call('/metrics', { token: 'f'.repeat(64) });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json().error.message, /wrong token/);
    assert.equal((await call('/readyz')).status, 200);
  });

  it('stores and finds an immutable item through the API', async () => {
    const put = await post('/api/items', { value: 'through the api' });
    assert.equal(put.status, 200, put.text);
    const { target, storedOn } = put.json() as unknown as { target: string; storedOn: number };
    assert.ok(storedOn >= 1);
    const got = await call(`/api/items/${target}`);
    assert.equal(got.status, 200);
    assert.equal(got.json()['value'], 'through the api');
    assert.equal(got.json()['valueHex'], Buffer.from('through the api').toString('hex'));
  });

  it('answers typed JSON errors for malformed JSON, a wrong field, bad hex, a wrong media type and a big body', async () => {
    const cases: [Promise<{ status: number; json: () => Body }>, number, string, RegExp][] = [
      [
        call('/api/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"value": ' }),
        400,
        'INVALID_REQUEST',
        /not valid JSON/,
      ],
      [
        post('/api/items', { value: 'x', colour: 'red' }),
        400,
        'INVALID_REQUEST',
        /must NOT have additional properties/,
      ],
      [post('/api/items', { value: 'zz', encoding: 'hex' }), 400, 'INVALID_REQUEST', /not hex/],
      [call('/api/items/not-hex'), 400, 'INVALID_REQUEST', /params\/target must match pattern/],
      [
        call('/api/items', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        /application\/json/,
      ],
      [post('/api/items', { value: 'x'.repeat(5000) }), 413, 'PAYLOAD_TOO_LARGE', /larger than the API accepts/],
      [post('/api/items', { value: 'x'.repeat(1200) }), 400, 'MESSAGE_TOO_BIG', /exceeds 1000 bytes/],
      [call('/api/nowhere'), 404, 'NOT_FOUND', /no route GET \/api\/nowhere/],
      [call(`/api/items/${'ab'.repeat(20)}`), 404, 'NOT_FOUND', /no item for/],
      [post('/api/ping', { address: 'nowhere' }), 400, 'INVALID_REQUEST', /address must be host:port/],
    ];
    for (const [pending, status, code, message] of cases) {
      const answer = await pending;
      assert.equal(answer.status, status, JSON.stringify(answer.json()));
      assert.equal(answer.json().error.code, code);
      assert.match(answer.json().error.message, message);
    }
  });

  it('keeps registry records and answers a version conflict with 409', async () => {
    const set = await call('/api/registry/app%2Fa', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'one' }),
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.json()['version'], 1);
    const conflict = await call('/api/registry/app%2Fa', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'two', ifVersion: 7 }),
    });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json().error.code, 'VERSION_CONFLICT');
    assert.equal((await call('/api/registry/app%2Fa')).json()['value'], 'one');
    assert.deepEqual(
      ((await call('/api/registry?prefix=app%2F')).json()['records'] as { key: string }[]).map((r) => r.key),
      ['app/a'],
    );
  });

  it('serves Prometheus metrics of this daemon: operations, table, RPC, registry calls', async () => {
    const text = (await call('/metrics')).text;
    assert.match(text, /^nautilus_operation_duration_seconds_count\{operation="put"\} [1-9]/m);
    assert.match(text, /^nautilus_routing_table_contacts\{family="ipv4",bucket="\d+"\} [1-9]/m);
    assert.match(text, /^nautilus_rpc_queries_total\{family="ipv4",direction="out",method="get"\} [1-9]/m);
    assert.match(text, /^nautilus_rpc_dropped_total\{family="ipv4",reason="rate_limited"\} 0/m);
    assert.match(
      text,
      /^nautilus_registry_operations_total\{registry="records",operation="set",outcome="VERSION_CONFLICT"\} 1/m,
    );
    assert.match(text, /^nautilus_stored\{kind="items"\} \d+/m);
  });

  it('shows reachability in /metrics and /api/stats: a loopback node asks no router for a mapping, nor a dial-back', async () => {
    const text = (await call('/metrics')).text;
    const states = [...text.matchAll(/^nautilus_reachability\{state="(\w+)"\} ([01])$/gm)];
    assert.deepEqual(states.map((m) => m[1]).sort(), ['firewalled', 'mapped', 'public', 'unknown']);
    assert.equal(states.filter((m) => m[2] === '1').length, 1, 'exactly one state is current');
    assert.match(text, /^nautilus_port_mapping\{state="off",protocol="none"\} 1$/m);
    assert.match(text, /^nautilus_unsolicited_queries_total \d+$/m);
    const reachability = (await call('/api/stats')).json()['reachability'] as {
      state: string;
      mapping: unknown;
      dialBack: unknown;
    };
    assert.ok(['public', 'unknown'].includes(reachability.state));
    assert.deepEqual(reachability.mapping, { state: 'off' });
    assert.deepEqual(reachability.dialBack, { last: null, ignoredProbes: 0 });
  });

  it('serves an OpenAPI document built from the route schemas', async () => {
    const doc = (await call('/openapi.json')).json() as unknown as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/api/items']?.['post']?.requestBody);
    assert.ok(doc.paths['/api/items/{target}']?.['get']);
    assert.ok(doc.paths['/api/registry/{key}']?.['put']);
  });

  it('streams stats and operations as Server-Sent Events', async () => {
    const controller = new AbortController();
    const response = await fetch(`${daemon.url}/api/events`, {
      headers: { authorization: `Bearer ${daemon.token}` },
      signal: controller.signal,
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.ok(response.body);
    const reader = response.body.getReader();
    let text = '';
    const until = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(text)) {
        const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
        if (done) throw new Error(`stream ended before ${String(pattern)}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until(/event: stats\ndata: \{"id":"[0-9a-f]{40}"/);
    await post('/api/items', { value: 'seen live' });
    await until(/event: activity\ndata: \{"operation":"put"/);
    controller.abort();
  });

  it('refuses to expose the API on a non-loopback address without an explicit token', async () => {
    await assert.rejects(
      startDaemon(config({ http: '0.0.0.0:0' }), { logger: createLogger('silent') }),
      (error: unknown) =>
        isDaemonError(error, 'INVALID_CONFIG') && /not loopback: give an explicit --token/.test(error.message),
    );
  });
});

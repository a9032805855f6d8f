import type { FastifyInstance } from 'fastify';
import { idToHex } from '../../kad/id.js';
import { MAX_STEPS, type ActivityStep } from '../activity.js';
import { DaemonError } from '../errors.js';
import { requestSignal, type RouteContext } from './context.js';
import {
  contactJson,
  decodeValue,
  encodeValue,
  endpointText,
  hexBytes,
  parseHostPort,
  peerJson,
  SCHEMAS,
  seqFromJson,
  seqJson,
  type ValueEncoding,
} from '../values.js';
import { runOperation } from './operation.js';
import type { GetOptions, GetResult, PutResult } from '../../kad/node/operation-types.js';

const errors = { '4xx': SCHEMAS.error, '5xx': SCHEMAS.error };
const storeResult = {
  type: 'object',
  properties: {
    target: SCHEMAS.id,
    seq: { type: ['integer', 'string', 'null'] },
    storedOn: { type: 'integer', description: 'nodes that accepted it' },
    failed: { type: 'integer', description: 'nodes that refused it or did not answer' },
    queried: { type: 'integer' },
    durationMs: { type: 'number' },
  },
} as const;
const itemResult = {
  type: 'object',
  properties: {
    target: SCHEMAS.id,
    value: { type: ['string', 'null'], description: 'the value as UTF-8 text, null when it is not' },
    valueHex: SCHEMAS.hex,
    seq: { type: ['integer', 'string', 'null'] },
    publicKey: { type: ['string', 'null'] },
    from: { type: 'integer', description: 'nodes that returned it' },
    queried: { type: 'integer' },
    durationMs: { type: 'number' },
  },
} as const;

interface PutBody {
  value: string;
  encoding?: ValueEncoding;
}
interface MutablePutBody extends PutBody {
  publicKey: string;
  signature: string;
  seq: number | string;
  salt?: string;
  cas?: number | string;
}

/** BEP 44 items, BEP 5 peers, lookups and pings. */
export function dhtRoutes(app: FastifyInstance, context: RouteContext): void {
  const { node } = context;

  app.post(
    '/api/items',
    {
      schema: {
        summary: 'Store an immutable item (BEP 44) on the k closest nodes',
        tags: ['dht'],
        body: {
          type: 'object',
          properties: { value: { type: 'string' }, encoding: SCHEMAS.encoding },
          required: ['value'],
          additionalProperties: false,
        },
        response: { 200: storeResult, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body as PutBody;
      const v = decodeValue(body.value, body.encoding);
      const signal = requestSignal(request, reply);
      return runOperation(context, 'put', 'immutable', async () => {
        const put = await node.put({ v }, { signal });
        return { result: storeJson(put), queried: put.queried };
      });
    },
  );

  app.post(
    '/api/items/mutable',
    {
      schema: {
        summary: 'Store a signed mutable item (BEP 44), signed by the client',
        description: 'The client signs (salt, seq, v) with its ed25519 key; the key never reaches the daemon.',
        tags: ['dht'],
        body: {
          type: 'object',
          properties: {
            value: { type: 'string' },
            encoding: SCHEMAS.encoding,
            publicKey: SCHEMAS.publicKey,
            signature: { type: 'string', pattern: '^[0-9a-fA-F]{128}$' },
            seq: SCHEMAS.seq,
            salt: SCHEMAS.hex,
            cas: SCHEMAS.seq,
          },
          required: ['value', 'publicKey', 'signature', 'seq'],
          additionalProperties: false,
        },
        response: { 200: storeResult, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body as MutablePutBody;
      const item = {
        v: decodeValue(body.value, body.encoding),
        k: hexBytes(body.publicKey),
        sig: hexBytes(body.signature),
        seq: seqFromJson(body.seq),
        ...(body.salt === undefined || body.salt === '' ? {} : { salt: hexBytes(body.salt) }),
      };
      const signal = requestSignal(request, reply);
      return runOperation(context, 'put_mutable', body.publicKey, async () => {
        const put = await node.put(item, { signal, ...(body.cas === undefined ? {} : { cas: seqFromJson(body.cas) }) });
        return { result: storeJson(put), queried: put.queried };
      });
    },
  );

  const getQuery = {
    type: 'object',
    properties: { salt: SCHEMAS.hex, seq: SCHEMAS.seq },
    additionalProperties: false,
  } as const;
  // a get by target and a get by public key differ in their parameter and the node call only
  const itemGet = (
    path: string,
    param: 'target' | 'publicKey',
    summary: string,
    operation: 'get' | 'get_mutable',
    find: (key: Uint8Array, options: GetOptions) => Promise<GetResult | undefined>,
  ): void => {
    app.get(
      path,
      {
        schema: {
          summary,
          tags: ['dht'],
          params: {
            type: 'object',
            properties: { [param]: param === 'target' ? SCHEMAS.id : SCHEMAS.publicKey },
            required: [param],
          },
          querystring: getQuery,
          response: { 200: itemResult, ...errors },
        },
      },
      async (request, reply) => {
        const key = (request.params as Record<string, string>)[param]?.toLowerCase() ?? '';
        const query = request.query as { salt?: string; seq?: string };
        const signal = requestSignal(request, reply);
        return runOperation(context, operation, key, async () => {
          const got = await find(hexBytes(key), { signal, ...getOptions(query) });
          if (got === undefined) throw DaemonError.notFound(`no item for ${key} on the closest nodes`);
          return { result: itemJson(got), queried: got.queried };
        });
      },
    );
  };
  itemGet(
    '/api/items/:target',
    'target',
    'Find the item stored under a target (immutable, or mutable with its salt)',
    'get',
    (key, options) => node.get(key, options),
  );
  itemGet(
    '/api/items/mutable/:publicKey',
    'publicKey',
    'Find the newest mutable item of a public key (and salt)',
    'get_mutable',
    (key, options) => node.getMutable(key, options),
  );

  app.post(
    '/api/peers/:infoHash',
    {
      schema: {
        summary: 'Announce this node as a peer of an info-hash (BEP 5)',
        tags: ['dht'],
        params: { type: 'object', properties: { infoHash: SCHEMAS.id }, required: ['infoHash'] },
        body: {
          type: ['object', 'null'],
          properties: { port: { type: 'integer', minimum: 1, maximum: 65535 }, impliedPort: { type: 'boolean' } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              infoHash: SCHEMAS.id,
              storedOn: { type: 'integer' },
              failed: { type: 'integer' },
              queried: { type: 'integer' },
              durationMs: { type: 'number' },
            },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { infoHash } = request.params as { infoHash: string };
      const body = (request.body ?? {}) as { port?: number; impliedPort?: boolean };
      const signal = requestSignal(request, reply);
      return runOperation(context, 'announce', infoHash.toLowerCase(), async () => {
        const done = await node.announce(hexBytes(infoHash), {
          signal,
          ...(body.port === undefined ? {} : { port: body.port }),
          impliedPort: body.impliedPort ?? body.port === undefined,
        });
        const result = {
          infoHash: idToHex(done.infoHash),
          storedOn: done.storedOn.length,
          failed: done.failed.length,
          queried: done.queried,
          durationMs: done.durationMs,
        };
        return { result, queried: done.queried };
      });
    },
  );

  app.get(
    '/api/peers/:infoHash',
    {
      schema: {
        summary: 'Find the peers of an info-hash (BEP 5 get_peers lookup)',
        tags: ['dht'],
        params: { type: 'object', properties: { infoHash: SCHEMAS.id }, required: ['infoHash'] },
        response: {
          200: {
            type: 'object',
            properties: { infoHash: SCHEMAS.id, peers: { type: 'array', items: { type: 'string' } } },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { infoHash } = request.params as { infoHash: string };
      const signal = requestSignal(request, reply);
      return runOperation(context, 'peers', infoHash.toLowerCase(), async () => {
        const before = node.stats().rpc.queriesSent;
        const peers = await node.getPeersOf(hexBytes(infoHash), { signal });
        const result = { infoHash: infoHash.toLowerCase(), peers: peers.map(peerJson) };
        return { result, queried: node.stats().rpc.queriesSent - before };
      });
    },
  );

  app.get(
    '/api/lookup/:id',
    {
      schema: {
        summary: 'Find the k closest nodes to an id (find_node lookup), with its steps',
        tags: ['dht'],
        params: { type: 'object', properties: { id: SCHEMAS.id }, required: ['id'] },
        response: {
          200: {
            type: 'object',
            properties: {
              target: SCHEMAS.id,
              closest: {
                type: 'array',
                items: { type: 'object', properties: { id: SCHEMAS.id, address: { type: 'string' } } },
              },
              queried: { type: 'integer' },
              responded: { type: 'integer' },
              timedOut: { type: 'integer' },
              durationMs: { type: 'number' },
            },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const signal = requestSignal(request, reply);
      return runOperation(context, 'lookup', id.toLowerCase(), async () => {
        const steps: ActivityStep[] = [];
        for await (const event of node.query(hexBytes(id), { method: 'find_node', signal })) {
          if (event.type === 'done') {
            steps.push({ type: 'done' });
            const result = {
              target: id.toLowerCase(),
              closest: event.closest.map(contactJson),
              queried: event.queried,
              responded: event.responded,
              timedOut: event.timedOut,
              durationMs: event.durationMs,
            };
            return { result, queried: event.queried, steps };
          }
          if (steps.length < MAX_STEPS) steps.push(stepOf(event));
        }
        throw new DaemonError('INTERNAL', 'the lookup ended without a result');
      });
    },
  );

  app.post(
    '/api/ping',
    {
      schema: {
        summary: 'Ping a node (KRPC ping)',
        tags: ['dht'],
        body: {
          type: 'object',
          properties: { address: { type: 'string', description: 'host:port, IPv6 as [::1]:port' } },
          required: ['address'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { id: SCHEMAS.id, address: { type: 'string' }, rttMs: { type: 'number' } },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { address } = request.body as { address: string };
      const to = parseHostPort(address, 'address', 'INVALID_REQUEST');
      const signal = requestSignal(request, reply);
      return runOperation(context, 'ping', endpointText(to.host, to.port), async () => {
        const start = performance.now();
        const contact = await node.ping(to, { signal });
        const rttMs = Math.round((performance.now() - start) * 100) / 100;
        return { result: { ...contactJson(contact), rttMs }, queried: 1 };
      });
    },
  );
}

function getOptions(query: { salt?: string; seq?: string }): { salt?: Uint8Array; seq?: bigint } {
  return {
    ...(query.salt === undefined || query.salt === '' ? {} : { salt: hexBytes(query.salt) }),
    ...(query.seq === undefined ? {} : { seq: BigInt(query.seq) }),
  };
}

function storeJson(put: PutResult): Record<string, unknown> {
  return {
    target: idToHex(put.target),
    seq: seqJson(put.seq),
    storedOn: put.storedOn.length,
    failed: put.failed.length,
    queried: put.queried,
    durationMs: put.durationMs,
  };
}

function itemJson(got: GetResult): Record<string, unknown> {
  const k = 'k' in got.item ? got.item.k : undefined;
  return {
    target: idToHex(got.target),
    ...encodeValue(got.item.v),
    seq: seqJson(got.seq),
    publicKey: k === undefined ? null : Buffer.from(k).toString('hex'),
    from: got.from.length,
    queried: got.queried,
    durationMs: got.durationMs,
  };
}

function stepOf(event: {
  type: string;
  to?: { host: string; port: number };
  from?: { host: string; port: number };
  rttMs?: number;
}): ActivityStep {
  const contact = event.to ?? event.from;
  return {
    type: event.type,
    ...(contact === undefined ? {} : { contact: endpointText(contact.host, contact.port) }),
    ...(event.rttMs === undefined ? {} : { rttMs: Math.round(event.rttMs * 100) / 100 }),
  };
}

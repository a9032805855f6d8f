import type { FastifyInstance } from 'fastify';
import type { RegistryRecord } from '../../registry/registry.js';
import { DaemonError } from '../errors.js';
import { requestSignal, type RouteContext } from './context.js';
import { decodeValue, encodeValue, SCHEMAS, type ValueEncoding } from '../values.js';

const errors = { '4xx': SCHEMAS.error, '5xx': SCHEMAS.error };
const keyParams = {
  type: 'object',
  properties: { key: { type: 'string', minLength: 1, maxLength: 1024 } },
  required: ['key'],
} as const;
const recordSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    value: { type: ['string', 'null'] },
    valueHex: SCHEMAS.hex,
    version: { type: 'integer' },
    expiresAt: { type: ['integer', 'null'] },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
  },
} as const;
const MAX_SCAN = 1000;

/** The `registry` verbs: records of the daemon's registry (apart from the node's store). */
export function registryRoutes(app: FastifyInstance, context: RouteContext): void {
  const { records } = context;

  app.get(
    '/api/registry',
    {
      schema: {
        summary: 'Scan records by key prefix',
        tags: ['registry'],
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string' },
            limit: { type: 'string', pattern: '^\\d{1,4}$', description: `at most ${MAX_SCAN}, default 100` },
          },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { records: { type: 'array', items: recordSchema } } },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const query = request.query as { prefix?: string; limit?: string };
      const limit = Math.min(Number(query.limit ?? 100), MAX_SCAN);
      const signal = requestSignal(request, reply);
      const found: Record<string, unknown>[] = [];
      if (limit === 0) return { records: found };
      for await (const record of records.scan({ prefix: query.prefix, signal })) {
        found.push(recordJson(record));
        if (found.length >= limit) break;
      }
      return { records: found };
    },
  );
  app.get(
    '/api/registry/:key',
    {
      schema: {
        summary: 'Read one record',
        tags: ['registry'],
        params: keyParams,
        response: { 200: recordSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { key } = request.params as { key: string };
      const record = await records.get(key, { signal: requestSignal(request, reply) });
      if (record === undefined) throw DaemonError.notFound(`no record "${key}"`);
      return recordJson(record);
    },
  );
  app.put(
    '/api/registry/:key',
    {
      schema: {
        summary: 'Write one record (optionally with a TTL, or only at a version)',
        tags: ['registry'],
        params: keyParams,
        body: {
          type: 'object',
          properties: {
            value: { type: 'string' },
            encoding: SCHEMAS.encoding,
            ttlMs: { type: 'integer', minimum: 1 },
            ifVersion: { type: 'integer', minimum: 0 },
          },
          required: ['value'],
          additionalProperties: false,
        },
        response: { 200: recordSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { key } = request.params as { key: string };
      const body = request.body as { value: string; encoding?: ValueEncoding; ttlMs?: number; ifVersion?: number };
      const record = await records.set(key, decodeValue(body.value, body.encoding), {
        signal: requestSignal(request, reply),
        ...(body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs }),
        ...(body.ifVersion === undefined ? {} : { ifVersion: body.ifVersion }),
      });
      return recordJson(record);
    },
  );
  app.delete(
    '/api/registry/:key',
    {
      schema: {
        summary: 'Delete one record',
        tags: ['registry'],
        params: keyParams,
        response: { 200: { type: 'object', properties: { deleted: { type: 'boolean' } } }, ...errors },
      },
    },
    async (request, reply) => {
      const { key } = request.params as { key: string };
      return { deleted: await records.delete(key, { signal: requestSignal(request, reply) }) };
    },
  );
}

function recordJson(record: RegistryRecord<Uint8Array>): Record<string, unknown> {
  return {
    key: record.key,
    ...encodeValue(record.value),
    version: record.version,
    expiresAt: record.expiresAt ?? null,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

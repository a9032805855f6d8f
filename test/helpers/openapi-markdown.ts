// Renders the daemon's OpenAPI document as docs/http-api.md. The docs test compares the file with
// this rendering, so the page cannot drift from the route schemas. Regenerate with:
//   npm run build && node dist/test/helpers/openapi-markdown.js > docs/http-api.md
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApiServer, createLogger, DaemonMetrics } from '../../src/daemon/index.js';
import { createNode } from '../../src/kad/index.js';
import { MemoryRegistry } from '../../src/registry/index.js';

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema; description?: string }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: unknown[];
}
interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  pattern?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  description?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

/** The OpenAPI document of a daemon API (served at /openapi.json), from a throwaway node. */
export async function openApiDocument(): Promise<{ paths: Record<string, Record<string, Operation>> }> {
  const node = await createNode({ host: '127.0.0.1', port: 0 });
  const store = new MemoryRegistry();
  const app = await createApiServer({
    node,
    records: new MemoryRegistry(),
    metrics: new DaemonMetrics({ node, store }),
    logger: createLogger('silent'),
    token: 'x',
    info: {},
  });
  try {
    return app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> };
  } finally {
    await app.close();
    await node.close();
  }
}

function typeOf(schema: Schema | undefined): string {
  if (schema === undefined) return '';
  if (schema.anyOf !== undefined) return schema.anyOf.map(typeOf).join(' or ');
  const base = Array.isArray(schema.type) ? schema.type.join(' \\| ') : (schema.type ?? 'any');
  const extra = [
    schema.pattern === undefined ? undefined : `\`${schema.pattern}\``,
    schema.enum === undefined ? undefined : schema.enum.map((e) => `\`${String(e)}\``).join(', '),
    schema.minimum === undefined ? undefined : `≥ ${schema.minimum}`,
    schema.maximum === undefined ? undefined : `≤ ${schema.maximum}`,
    schema.default === undefined ? undefined : `default \`${JSON.stringify(schema.default)}\``,
  ].filter((x) => x !== undefined);
  return extra.length === 0 ? base : `${base} (${extra.join('; ')})`;
}

function fields(schema: Schema): string[] {
  const lines = ['| field | type | required | meaning |', '| --- | --- | --- | --- |'];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    lines.push(
      `| \`${name}\` | ${typeOf(field)} | ${schema.required?.includes(name) === true ? 'yes' : ''} | ${field.description ?? ''} |`,
    );
  }
  return lines;
}

/** The Markdown page. */
export function render(doc: { paths: Record<string, Record<string, Operation>> }): string {
  const out = [
    '# Nautilus daemon HTTP API',
    '',
    'Rendered from the OpenAPI 3.1 document the daemon serves at `/openapi.json` (the same route schemas',
    'validate every request). Every request but `GET /healthz` and the dashboard files (`/`, `/dashboard.js`,',
    '`/dashboard.css`, which hold no data) carries `Authorization: Bearer <token>` (the token is',
    '`<state-dir>/api-token`, mode 0600, made on first start, or `--token`). Bodies are JSON',
    '(`content-type: application/json`, at most 64 KiB). Every error is',
    '`{ "error": { "code": "SCREAMING_SNAKE", "message": "…" } }`:',
    '',
    '| status | codes |',
    '| --- | --- |',
    '| 400 | `INVALID_REQUEST` (body, parameters or query do not fit the schema; malformed JSON), `MESSAGE_TOO_BIG` (value over 1000 bytes), `SALT_TOO_BIG`, `INVALID_SIGNATURE`, `INVALID_KEY`… |',
    "| 401 | `UNAUTHORIZED` (no token, or not this daemon's) |",
    '| 404 | `NOT_FOUND` (no route; nothing under that target or key) |',
    '| 409 | `SEQ_TOO_LOW`, `CAS_MISMATCH` (mutable items); `VERSION_CONFLICT` (registry `ifVersion`) |',
    '| 413 | `PAYLOAD_TOO_LARGE` (body over the limit); `VALUE_TOO_LARGE` (registry) |',
    '| 415 | `UNSUPPORTED_MEDIA_TYPE` (a body that is not JSON) |',
    '| 502 | `NOT_STORED` (no node accepted a put or announce), `REMOTE_ERROR` |',
    '| 503 | `NO_CONTACTS` (the node knows nobody), `NOT_READY` (`/readyz`), `BACKEND_UNAVAILABLE`, `CLOSED` |',
    '| 504 | `TIMEOUT` |',
    '| 500 | `INTERNAL` (logged with its stack; the message says no more) |',
    '',
    'A DHT operation stops when its client disconnects. Values travel as UTF-8 text (`encoding: "utf8"`),',
    '`hex` or `base64`; answers carry `value` (the text, or `null` when the bytes are not UTF-8) and',
    '`valueHex`. Sequence numbers are JSON numbers up to 2^53 and decimal strings beyond.',
    '',
  ];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      out.push(
        `## \`${method.toUpperCase()} ${path}\``,
        '',
        `${op.summary ?? ''}${op.security?.length === 0 ? ' No token needed.' : ''}`,
        '',
      );
      if (op.description !== undefined) out.push(op.description, '');
      const params = op.parameters ?? [];
      if (params.length > 0) {
        out.push('| parameter | in | type | required |', '| --- | --- | --- | --- |');
        for (const p of params)
          out.push(`| \`${p.name}\` | ${p.in} | ${typeOf(p.schema)} | ${p.required === true ? 'yes' : ''} |`);
        out.push('');
      }
      const body = op.requestBody?.content['application/json']?.schema;
      if (body !== undefined) out.push('Body:', '', ...fields(body), '');
      const ok = op.responses?.['200']?.content?.['application/json']?.schema;
      if (ok?.properties !== undefined) out.push('Answer (200):', '', ...fields(ok), '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && realpathSync(invokedAs) === fileURLToPath(import.meta.url)) {
  process.stdout.write(render(await openApiDocument()));
}

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { openApiDocument, render } from '../../helpers/openapi-markdown.js';

describe('docs/http-api.md', () => {
  it('is the rendering of the OpenAPI document the daemon serves (regenerate it when routes change)', async () => {
    const file = await readFile(new URL('../../../../docs/http-api.md', import.meta.url), 'utf8');
    assert.equal(file, render(await openApiDocument()));
  });
});

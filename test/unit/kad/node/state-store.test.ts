import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { idToHex } from '../../../../src/kad/id.js';
import { createNode } from '../../../../src/kad/node/node.js';
import type { StateDiscardedEvent } from '../../../../src/kad/node/operation-types.js';
import { MAX_STATE_BYTES } from '../../../../src/kad/node/state-format.js';
import { FileStateStore, STATE_FILE_NAME } from '../../../../src/kad/node/state-store.js';
import { ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('FileStateStore', () => {
  let root: string;
  let serial = 0;
  const fresh = (): string => join(root, `case-${++serial}`, 'state');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nautilus-state-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads nothing where nothing was written, without creating the directory', async () => {
    const store = new FileStateStore(fresh());
    assert.equal(await store.read(), undefined);
    await assert.rejects(stat(store.dir), { code: 'ENOENT' });
  });

  it('creates the directory (0700) and a file (0600) on the first write, and reads it back', async () => {
    const store = new FileStateStore(fresh());
    await store.write(bytes('one'));
    assert.equal(store.path, join(store.dir, STATE_FILE_NAME));
    assert.deepEqual(await store.read(), bytes('one'));
    if (process.platform !== 'win32') {
      assert.equal((await stat(store.dir)).mode & 0o777, 0o700);
      assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    }
  });

  it('replaces the file on each write and leaves no temporary file behind', async () => {
    const store = new FileStateStore(fresh());
    await store.write(bytes('first version'));
    await store.write(bytes('second'));
    assert.equal(await readFile(store.path, 'utf8'), 'second');
    assert.deepEqual(await readdir(store.dir), [STATE_FILE_NAME]);
  });

  it('keeps the old state when a write fails before the rename', async () => {
    const store = new FileStateStore(fresh());
    await store.write(bytes('good'));
    // a directory where the temporary file goes: opening it for writing fails
    await mkdir(`${store.path}.tmp`);
    await assert.rejects(store.write(bytes('never')), { code: 'EISDIR' });
    assert.equal(await readFile(store.path, 'utf8'), 'good');
  });

  it('rejects a write with the reason of an aborted signal, writing nothing', async () => {
    const store = new FileStateStore(fresh());
    const reason = new Error('stop');
    await assert.rejects(store.write(bytes('x'), { signal: AbortSignal.abort(reason) }), reason);
    assert.equal(await store.read(), undefined);
  });

  it('sets the file aside under its tag, confined to its directory, so the next read finds nothing', async () => {
    const store = new FileStateStore(fresh());
    assert.equal(await store.setAside('corrupt-1'), undefined, 'nothing to set aside');
    await store.write(bytes('bad'));
    const aside = await store.setAside('../corrupt/1');
    assert.equal(aside, `${store.path}.___corrupt_1`);
    assert.equal(await readFile(aside, 'utf8'), 'bad');
    assert.equal(await store.read(), undefined);
    assert.deepEqual((await readdir(store.dir)).sort(), [`${STATE_FILE_NAME}.___corrupt_1`]);
  });

  it('reads no more than one byte over the largest state file of a larger file', async () => {
    const store = new FileStateStore(fresh());
    await store.write(bytes('{}'));
    await truncate(store.path, MAX_STATE_BYTES + 4096); // sparse: no 16 MiB written
    const read = await store.read();
    assert.equal(read?.length, MAX_STATE_BYTES + 1);
  });

  it('rejects a read with the reason of an aborted signal', async () => {
    const store = new FileStateStore(fresh());
    await store.write(bytes('{}'));
    const reason = new Error('stop');
    await assert.rejects(store.read({ signal: AbortSignal.abort(reason) }), reason);
  });

  it('rejects a read of a path that is not a file', async () => {
    const store = new FileStateStore(fresh());
    await mkdir(store.path, { recursive: true });
    await assert.rejects(store.read(), { code: 'EISDIR' });
  });
});

describe('a node with a stateDir', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nautilus-node-state-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps its id across a restart through the file, and renames a corrupt file aside', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const stateDir = join(root, 'node');
    try {
      const first = await createNode({ transport: network.createTransport(), clock, stateDir });
      await first.close();
      const file = join(stateDir, STATE_FILE_NAME);
      const body = (JSON.parse(await readFile(file, 'utf8')) as { body: { id: string } }).body;
      assert.equal(body.id, idToHex(first.id));

      const second = await createNode({ transport: network.createTransport(), clock, stateDir });
      assert.equal(idToHex(second.id), idToHex(first.id));
      await second.close();

      await writeFile(file, '{"format":"nautilus-kad-state","vers');
      const third = await createNode({ transport: network.createTransport(), clock, stateDir });
      const events: StateDiscardedEvent[] = [];
      third.on('state:discarded', (event) => events.push(event));
      await clock.advanceAsync(0);
      assert.equal(events[0]?.reason, 'corrupt');
      assert.equal(events[0]?.keptAs, `${file}.corrupt-${clock.now()}`);
      assert.equal(await readFile(events[0]?.keptAs ?? '', 'utf8'), '{"format":"nautilus-kad-state","vers');
      assert.notEqual(idToHex(third.id), idToHex(first.id));
      await third.close();
      const after = (JSON.parse(await readFile(file, 'utf8')) as { body: { id: string } }).body;
      assert.equal(after.id, idToHex(third.id));
    } finally {
      await network.close();
    }
  });
});

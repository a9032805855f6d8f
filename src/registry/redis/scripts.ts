import { createHash } from 'node:crypto';
import { type FeedLua, NO_FEED } from './changefeed-lua.js';

/**
 * The Lua scripts that make every write atomic: each reads the 33-byte header of the stored
 * record (see `record-layout.ts`) and decides from it, so versions, compare-and-set and
 * deadlines never race with other clients. `now` always comes from the registry's injected
 * clock: a record whose `expiresAt` is at or before it counts as absent, and is removed by
 * whichever script first meets it (which reports it, so exactly one client fires the event).
 *
 * Single-key scripts declare their key; the multi-key ones take theirs in `ARGV` (see
 * `CROSS_SLOT`), so one call per cluster master serves a batch.
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  /** SHA-1 of `source`, for `EVALSHA`. */
  readonly sha1: string;
}

function script(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha1: createHash('sha1').update(source).digest('hex') });
}

/**
 * How the multi-key scripts find their keys: in `ARGV`, not `KEYS`, so that one call can carry
 * keys of many hash slots served by the same cluster master (declared keys must all share one
 * slot). `KEYS` may still declare the keys of a one-slot call, only so the cluster client can
 * route it and follow `MOVED`/`ASK`. Each script reads everything it needs first and writes
 * nothing if a key turns out not to be served here (resharding, failover): it then replies with
 * a `NOTLOCAL` error and the caller sends the keys again slot by slot. A key of another Redis
 * type is left alone and reported, so one foreign key never fails the rest of a batch.
 * Requires Redis 7.0 (script flags).
 */
const CROSS_SLOT = '#!lua flags=allow-cross-slot-keys\n';

/**
 * A number as a script replies it: as an integer reply when the client reads that back exactly
 * (an integer below 2^53 - 1024: its decoder loses the last digits just under 2^53), else as its
 * full text (`%.17g`: a version near `Number.MAX_SAFE_INTEGER`, a restored fractional or huge
 * time). {@link replyNumber} reads both.
 */
const EXACT = `local function exact(x)
  if x == math.floor(x) and x < 9007199254739968 and x > -9007199254739968 then return x end
  return string.format('%.17g', x)
end`;

/** A number a script replied through `exact` (an integer, or its text as a Buffer). */
export function replyNumber(reply: unknown): number {
  return typeof reply === 'number' ? reply : Number(String(reply));
}

/** Pass 1 of a multi-key script: the header of key `i`, `false` for another type, or a bail-out. */
const READ_HEADS = `local heads = {}
for i = 1, n do
  local head = redis.pcall('GETRANGE', key(i), 0, 32)
  if type(head) == 'table' then
    if string.sub(head.err, 1, 9) ~= 'WRONGTYPE' then return redis.error_reply('NOTLOCAL ' .. head.err) end
    head = false
  end
  heads[i] = head
end`;

/**
 * Writes every key. ARGV: now, graceMs, ifVersion ('' = unconditional), then per key its name,
 * value and ttlMs ('0' = none). Replies 3 integers per key: new version, createdAt, version of an
 * expired record it replaced (0 if none), or `-2, 0, 0` for a key holding another Redis type, or
 * `-3, version, 0` for a key left alone because its version is already `Number.MAX_SAFE_INTEGER`
 * (one more would not be exact); or `{-1, actual version, expired version}` on a conflict (only
 * ever asked of one key).
 */
const writeSource = (f: FeedLua): string => `${CROSS_SLOT}${f.prelude}local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local cond = ARGV[3]
local n = (#ARGV - 3) / 3
local function key(i) return ARGV[1 + 3 * i] end
${EXACT}
${READ_HEADS}
local out = {}
-- what this call wrote, so a key repeated in the batch sees its earlier write
local wrote = {}
for i = 1, n do
  local k = key(i)
  local head = wrote[k] or heads[i]
  if head == false then
    out[3 * i - 2] = -2
    out[3 * i - 1] = 0
    out[3 * i] = 0
  else
    local version, created, expired = 0, now, 0
    if #head == 33 then
      local _, v, c, _, e = struct.unpack('<Bdddd', head)
      if e ~= 0 and e <= now then expired = v else version = v; created = c end
    end
    if cond ~= '' and tonumber(cond) ~= version then
      if expired ~= 0 then
        redis.call('UNLINK', k)
        ${f.removed('k', 'expired', "'expire'")}
      end
      return {-1, exact(version), exact(expired)}
    end
    if version >= 9007199254740991 then
      out[3 * i - 2] = -3
      out[3 * i - 1] = exact(version)
      out[3 * i] = 0
    else
      local ttl = tonumber(ARGV[3 + 3 * i])
      local deadline = 0
      if ttl > 0 then deadline = now + ttl end
      local header = struct.pack('<Bdddd', 1, version + 1, created, now, deadline)
      local record = header .. ARGV[2 + 3 * i]
      if ttl > 0 then
        redis.call('SET', k, record, 'PXAT', deadline + grace)
      else
        redis.call('SET', k, record)
      end
      if expired ~= 0 then ${f.removed('k', 'expired', "'expire'")} end
      ${f.set('k', 'record')}
      wrote[k] = header
      out[3 * i - 2] = exact(version + 1)
      out[3 * i - 1] = exact(created)
      out[3 * i] = exact(expired)
    end
  end
end
return out`;

/** {@link writeSource} without a change feed. */
export const WRITE = script('write', writeSource(NO_FEED));

/**
 * Deletes every key. ARGV: now, ifVersion ('' = unconditional), reason (of the feed's removals:
 * `delete` or `clear`), then the keys. Replies 2
 * integers per key: state (0 absent or another Redis type, 1 deleted, 2 was expired and is now
 * removed) and the record's version; or `{-1, live version, expired version}` on a conflict
 * (only ever asked of one key; nothing live is deleted then).
 */
const deleteSource = (f: FeedLua): string => `${CROSS_SLOT}${f.prelude}local now = tonumber(ARGV[1])
local cond = ARGV[2]
local reason = ARGV[3]
local n = #ARGV - 3
local function key(i) return ARGV[3 + i] end
${EXACT}
${READ_HEADS}
local out = {}
-- keys this call removed, so a key repeated in the batch is absent the second time
local gone = {}
for i = 1, n do
  local k = key(i)
  local state, version = 0, 0
  local head = heads[i]
  if gone[k] then head = false end
  if head and #head == 33 then
    local _, v, _, _, e = struct.unpack('<Bdddd', head)
    version = v
    if e ~= 0 and e <= now then
      redis.call('UNLINK', k)
      ${f.removed('k', 'v', "'expire'")}
      state = 2
    else
      state = 1
    end
  end
  if cond ~= '' then
    local live = 0
    if state == 1 then live = version end
    if tonumber(cond) ~= live then
      local expired = 0
      if state == 2 then expired = version end
      return {-1, exact(live), exact(expired)}
    end
  end
  if state == 1 then
    redis.call('UNLINK', k)
    ${f.removed('k', 'version', 'reason')}
  end
  if state ~= 0 then gone[k] = true end
  out[2 * i - 1] = state
  out[2 * i] = exact(version)
end
return out`;

/** {@link deleteSource} without a change feed. */
export const DELETE = script('delete', deleteSource(NO_FEED));

/**
 * Removes records found expired by a read, only if they are still the same version and still
 * expired (another client may have rewritten them meanwhile). ARGV: now, then per key its name
 * and version. Replies 1 per key it removed, 0 otherwise.
 */
const reapSource = (f: FeedLua): string => `${CROSS_SLOT}${f.prelude}local now = tonumber(ARGV[1])
local n = (#ARGV - 1) / 2
local function key(i) return ARGV[2 * i] end
${READ_HEADS}
local out = {}
for i = 1, n do
  out[i] = 0
  local head = heads[i]
  if head and #head == 33 then
    local _, v, _, _, e = struct.unpack('<Bdddd', head)
    if v == tonumber(ARGV[1 + 2 * i]) and e ~= 0 and e <= now then
      redis.call('UNLINK', key(i))
      ${f.removed('key(i)', 'v', "'expire'")}
      out[i] = 1
    end
  end
end
return out`;

/** {@link reapSource} without a change feed. */
export const REAP = script('reap', reapSource(NO_FEED));

/**
 * Reads the keys of many slots of one cluster master in one call (`MGET` takes one slot).
 * ARGV: the keys. Replies the stored bytes per key, nil for an absent key or another Redis type.
 */
export const READ = script(
  'read',
  `#!lua flags=allow-cross-slot-keys,no-writes
local out = {}
for i = 1, #ARGV do
  local value = redis.pcall('GET', ARGV[i])
  if type(value) == 'table' then
    if string.sub(value.err, 1, 9) ~= 'WRONGTYPE' then return redis.error_reply('NOTLOCAL ' .. value.err) end
    value = false
  end
  out[i] = value
end
return out`,
);

/**
 * Renews the deadline of a live record. ARGV: now, ttlMs, graceMs. Replies `{1, version}` when
 * renewed, `{0, expired version}` when the record was expired (and is now removed), `{0, 0}`
 * when absent.
 */
const touchSource = (f: FeedLua): string => `${f.prelude}${EXACT}
local now = tonumber(ARGV[1])
local head = redis.call('GETRANGE', KEYS[1], 0, 32)
if #head ~= 33 then return {0, 0} end
local _, v, _, _, e = struct.unpack('<Bdddd', head)
if e ~= 0 and e <= now then
  redis.call('UNLINK', KEYS[1])
  ${f.removed('KEYS[1]', 'v', "'expire'")}
  return {0, exact(v)}
end
local deadline = now + tonumber(ARGV[2])
redis.call('SETRANGE', KEYS[1], 25, struct.pack('<d', deadline))
redis.call('PEXPIREAT', KEYS[1], deadline + tonumber(ARGV[3]))
${f.set('KEYS[1]', "redis.call('GET', KEYS[1])")}
return {1, exact(v)}`;

/** {@link touchSource} without a change feed. */
export const TOUCH = script('touch', touchSource(NO_FEED));

/**
 * Writes one record verbatim (`restore`): no version increment, the given times. ARGV: now,
 * graceMs, ifNewer ('1' = only over an absent, expired or older record), version, createdAt,
 * updatedAt, expiresAt ('0' = none), value. A record already expired at `now` is not written.
 * Replies `{state, expired version}`: state 1 written, 0 kept, -2 the key holds another Redis type.
 */
const restoreSource = (f: FeedLua): string => `${f.prelude}${EXACT}
local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local version = tonumber(ARGV[4])
local updated = tonumber(ARGV[6])
local deadline = tonumber(ARGV[7])
local key = KEYS[1]
local head = redis.pcall('GETRANGE', key, 0, 32)
if type(head) == 'table' then return {-2, 0} end
local expired = 0
if #head == 33 then
  local _, v, _, u, e = struct.unpack('<Bdddd', head)
  if e ~= 0 and e <= now then
    expired = v
    redis.call('UNLINK', key)
    ${f.removed('key', 'v', "'expire'")}
  elseif ARGV[3] == '1' and not (version > v or (version == v and updated > u)) then
    return {0, 0}
  end
end
if deadline ~= 0 and deadline <= now then return {0, exact(expired)} end
local record = struct.pack('<Bdddd', 1, version, tonumber(ARGV[5]), updated, deadline) .. ARGV[8]
if deadline ~= 0 then
  redis.call('SET', key, record, 'PXAT', math.ceil(deadline + grace))
else
  redis.call('SET', key, record)
end
${f.set('key', 'record')}
return {1, exact(expired)}`;

/** {@link restoreSource} without a change feed. */
export const RESTORE = script('restore', restoreSource(NO_FEED));

/** The write scripts one registry runs: with its change feed, or without one. */
export interface WriteScripts {
  readonly write: LuaScript;
  readonly delete: LuaScript;
  readonly reap: LuaScript;
  readonly touch: LuaScript;
  readonly restore: LuaScript;
  /**
   * Keys every call of these scripts declares after its own (the feed's stream and epoch key,
   * none without a feed): the feed variants find them as the last two `KEYS`.
   */
  readonly feedKeys: readonly string[];
}

/** The scripts without a change feed. */
export const PLAIN_SCRIPTS: WriteScripts = Object.freeze({
  write: WRITE,
  delete: DELETE,
  reap: REAP,
  touch: TOUCH,
  restore: RESTORE,
  feedKeys: Object.freeze([]),
});

/** The scripts that append every change to the feed `f` in the same call (see changefeed-lua.ts). */
export function feedScripts(f: FeedLua, feedKeys: readonly string[]): WriteScripts {
  return Object.freeze({
    write: script('write+feed', writeSource(f)),
    delete: script('delete+feed', deleteSource(f)),
    reap: script('reap+feed', reapSource(f)),
    touch: script('touch+feed', touchSource(f)),
    restore: script('restore+feed', restoreSource(f)),
    feedKeys: Object.freeze([...feedKeys]),
  });
}

import { createHash } from 'node:crypto';

/**
 * The Lua scripts that make every write atomic: each reads the 33-byte header of the stored
 * record (see `record-layout.ts`) and decides from it, so versions, compare-and-set and
 * deadlines never race with other clients. `now` always comes from the registry's injected
 * clock: a record whose `expiresAt` is at or before it counts as absent, and is removed by
 * whichever script first meets it (which reports it, so exactly one client fires the event).
 *
 * Multi-key calls only ever carry keys of one hash slot (the registry groups them), so they
 * run unchanged on Redis Cluster.
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
 * Writes every key. ARGV: now, graceMs, ifVersion ('' = unconditional), then per key value and
 * ttlMs ('0' = none). Replies 3 integers per key: new version, createdAt, version of an expired
 * record it replaced (0 if none), or `-2, 0, 0` for a key holding another Redis type (left
 * alone, so one foreign key never fails the other writes of a batch); or
 * `{-1, actual version, expired version}` on a conflict.
 */
export const WRITE = script(
  'write',
  `local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local cond = ARGV[3]
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local version, created, expired = 0, now, 0
  local head = redis.pcall('GETRANGE', key, 0, 32)
  if type(head) == 'table' then
    -- another Redis type under this key: leave it, report it, go on with the others
    out[3 * i - 2] = -2
    out[3 * i - 1] = 0
    out[3 * i] = 0
  else
    if #head == 33 then
      local _, v, c, _, e = struct.unpack('<Bdddd', head)
      if e ~= 0 and e <= now then expired = v else version = v; created = c end
    end
    if cond ~= '' and tonumber(cond) ~= version then
      if expired ~= 0 then redis.call('UNLINK', key) end
      return {-1, version, expired}
    end
    local ttl = tonumber(ARGV[3 + 2 * i])
    local deadline = 0
    if ttl > 0 then deadline = now + ttl end
    local record = struct.pack('<Bdddd', 1, version + 1, created, now, deadline) .. ARGV[2 + 2 * i]
    if ttl > 0 then
      redis.call('SET', key, record, 'PXAT', deadline + grace)
    else
      redis.call('SET', key, record)
    end
    out[3 * i - 2] = version + 1
    out[3 * i - 1] = created
    out[3 * i] = expired
  end
end
return out`,
);

/**
 * Deletes every key. ARGV: now, ifVersion ('' = unconditional). Replies 2 integers per key:
 * state (0 absent, 1 deleted, 2 was expired and is now removed) and the record's version; or
 * `{-1, live version, expired version}` on a conflict (nothing live is deleted then).
 */
export const DELETE = script(
  'delete',
  `local now = tonumber(ARGV[1])
local cond = ARGV[2]
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local state, version = 0, 0
  local head = redis.call('GETRANGE', key, 0, 32)
  if #head == 33 then
    local _, v, _, _, e = struct.unpack('<Bdddd', head)
    version = v
    if e ~= 0 and e <= now then
      redis.call('UNLINK', key)
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
      return {-1, live, expired}
    end
  end
  if state == 1 then redis.call('UNLINK', key) end
  out[2 * i - 1] = state
  out[2 * i] = version
end
return out`,
);

/**
 * Removes records found expired by a read, only if they are still the same version and still
 * expired (another client may have rewritten them meanwhile). ARGV: now, then one version per
 * key. Replies 1 per key it removed, 0 otherwise.
 */
export const REAP = script(
  'reap',
  `local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  out[i] = 0
  local head = redis.call('GETRANGE', KEYS[i], 0, 32)
  if #head == 33 then
    local _, v, _, _, e = struct.unpack('<Bdddd', head)
    if v == tonumber(ARGV[1 + i]) and e ~= 0 and e <= now then
      redis.call('UNLINK', KEYS[i])
      out[i] = 1
    end
  end
end
return out`,
);

/**
 * Renews the deadline of a live record. ARGV: now, ttlMs, graceMs. Replies `{1, version}` when
 * renewed, `{0, expired version}` when the record was expired (and is now removed), `{0, 0}`
 * when absent.
 */
export const TOUCH = script(
  'touch',
  `local now = tonumber(ARGV[1])
local head = redis.call('GETRANGE', KEYS[1], 0, 32)
if #head ~= 33 then return {0, 0} end
local _, v, _, _, e = struct.unpack('<Bdddd', head)
if e ~= 0 and e <= now then
  redis.call('UNLINK', KEYS[1])
  return {0, v}
end
local deadline = now + tonumber(ARGV[2])
redis.call('SETRANGE', KEYS[1], 25, struct.pack('<d', deadline))
redis.call('PEXPIREAT', KEYS[1], deadline + tonumber(ARGV[3]))
return {1, v}`,
);

/**
 * Writes one record verbatim (`restore`): no version increment, the given times. ARGV: now,
 * graceMs, ifNewer ('1' = only over an absent, expired or older record), version, createdAt,
 * updatedAt, expiresAt ('0' = none), value. A record already expired at `now` is not written.
 * Replies `{state, expired version}`: state 1 written, 0 kept, -2 the key holds another Redis type.
 */
export const RESTORE = script(
  'restore',
  `local now = tonumber(ARGV[1])
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
  elseif ARGV[3] == '1' and not (version > v or (version == v and updated > u)) then
    return {0, 0}
  end
end
if deadline ~= 0 and deadline <= now then return {0, expired} end
local record = struct.pack('<Bdddd', 1, version, tonumber(ARGV[5]), updated, deadline) .. ARGV[8]
if deadline ~= 0 then
  redis.call('SET', key, record, 'PXAT', math.ceil(deadline + grace))
else
  redis.call('SET', key, record)
end
return {1, expired}`,
);

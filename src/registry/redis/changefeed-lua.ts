/**
 * The Lua side of a Redis registry's change feed: what the write scripts (scripts.ts) run to
 * append each change to the feed's stream in the same call as the change itself, so a change
 * and its feed entry commit together or not at all.
 *
 * Stream entries (fields, all bulk strings):
 * - a write (set, batch entry, restore, touch): `k` the Redis key, `r` the stored record bytes;
 * - a removal: `k` the Redis key, `v` the removed version, `d` the reason (`delete`, `clear`,
 *   `expire`);
 * - the start of an epoch: `epoch` the stream ID the epoch follows (`0-0` for a new stream,
 *   `lost` for a stream lost while its epoch key stayed).
 *
 * IDs are `<epoch>-<n>` with `n` dense within an epoch (`XADD … <epoch>-*`), so a reader that
 * holds ID `E-n` knows the next change is `E-(n+1)`: anything else means entries it has not read
 * were trimmed (`MAXLEN ~`) or the stream was lost, and it reports `COMPACTED`. The epoch (the
 * server's time in ms when it began, from `XADD *`) lives in its own string key; a script that
 * finds it missing or out of step with the stream (a new stream, an eviction, a flush, a
 * restart without persistence) begins a new epoch with a marker entry saying which ID it
 * follows, so readers tell "nothing was lost" (`epoch` = their position) from a gap. One case
 * is beyond telling: both keys lost at once (`FLUSHALL`, a restart without persistence) look
 * like a namespace never written, so the cursor `0-0` (issued before its first change) resumes
 * at the new stream's start; every other cursor gets `COMPACTED`.
 */

/** Lua fragments a write script splices in to append its changes to a feed (nothing without one). */
export interface FeedLua {
  /** Lua defining `feed_add(...)`, placed at the start of the script (after its flags line). */
  readonly prelude: string;
  /** A statement appending "`key` now holds `record`" (Lua expressions). */
  set(key: string, record: string): string;
  /** A statement appending "`key` at `version` left for `reason`" (Lua expressions). */
  removed(key: string, version: string, reason: string): string;
}

/** No feed: the scripts as they are. */
export const NO_FEED: FeedLua = Object.freeze({
  prelude: '',
  set: () => '',
  removed: () => '',
});

/**
 * The feed fragments for a stream trimmed to about `maxLength` entries. The stream and its
 * epoch key are the last two keys the script declares (`KEYS[#KEYS - 1]`, `KEYS[#KEYS]`).
 */
export function feedLua(maxLength: number): FeedLua {
  const max = String(maxLength);
  const lua: FeedLua = {
    prelude: `local feed_stream, feed_epoch_key = KEYS[#KEYS - 1], KEYS[#KEYS]
local feed_epoch = false
local function feed_add(...)
  if not feed_epoch then feed_epoch = redis.call('GET', feed_epoch_key) end
  local prev = '0-0'
  if feed_epoch then
    local id = redis.pcall('XADD', feed_stream, 'NOMKSTREAM', 'MAXLEN', '~', '${max}', feed_epoch .. '-*', ...)
    if type(id) == 'string' then return end
    -- the epoch outlived its stream: what the stream held is lost, no cursor follows on
    prev = 'lost'
  end
  -- a new epoch: no stream (first write, eviction, flush), no epoch key, or an epoch behind the stream
  local info = redis.pcall('XINFO', 'STREAM', feed_stream)
  if type(info) == 'table' and not info.err then
    for i = 1, #info - 1, 2 do
      if info[i] == 'last-generated-id' then prev = info[i + 1] end
    end
  end
  local marker = redis.call('XADD', feed_stream, 'MAXLEN', '~', '${max}', '*', 'epoch', prev)
  feed_epoch = string.match(marker, '^(%d+)-')
  redis.call('SET', feed_epoch_key, feed_epoch)
  redis.call('XADD', feed_stream, 'MAXLEN', '~', '${max}', feed_epoch .. '-*', ...)
end
`,
    set: (key, record) => `feed_add('k', ${key}, 'r', ${record})`,
    removed: (key, version, reason) => `feed_add('k', ${key}, 'v', string.format('%.17g', ${version}), 'd', ${reason})`,
  };
  return Object.freeze(lua);
}

//! The Lua scripts, each atomic on Redis.

use redis::Script;

/// Numbers one room message, logs it and publishes it, atomically: publish
/// order is number order, and every node sees the same number.
///
/// KEYS: meta, log. ARGV: now_ms, ceiling, seed ("" for none), log length,
/// channel, body, version, floor. Returns `{seq, ts}`, or `{-1, 0}` when the
/// counter is gone (or went back below the caller's floor: Redis restored
/// from an old snapshot) and no seed was given, or `{-2, last}` when the
/// next number would pass the caller's ceiling (its store reservation).
///
/// Lua numbers are doubles: exact up to 2^53, far beyond any room's count.
/// The log entry is written first: if it fails, nothing changed.
pub(crate) fn number() -> Script {
    Script::new(
        r"
local seq = redis.call('HGET', KEYS[1], 'seq')
if not seq or tonumber(seq) < tonumber(ARGV[8]) then
  if ARGV[3] == '' then return {-1, 0} end
  seq = ARGV[3]
end
seq = tonumber(seq) + 1
if seq > tonumber(ARGV[2]) then return {-2, seq - 1} end
local ts = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'ts') or '0')
if last > ts then ts = last end
local s = string.format('%d', seq)
local t = string.format('%d', ts)
local payload = ARGV[7] .. ' ' .. s .. ' ' .. t .. ' ' .. ARGV[6]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], s .. '-1', 'm', payload)
redis.call('HSET', KEYS[1], 'seq', s, 'ts', t)
redis.call('PUBLISH', ARGV[5], payload)
return {seq, ts}
",
    )
}

/// A login claims its username and tells every node where the user is now,
/// in the same step, so the notices of two racing logins arrive in the
/// order Redis took the claims. Returns the entry it replaced (another
/// session's, maybe on another node), or nil.
///
/// KEYS: presence, expiry. ARGV: username key, entry, expires at (ms),
/// channel, the Online notice to send if nobody held the name (announced),
/// the one to send if somebody did (not announced: the user never left).
pub(crate) fn claim() -> Script {
    Script::new(
        r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if old then
  redis.call('PUBLISH', ARGV[4], ARGV[6])
else
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return old
",
    )
}

/// A logout gives its username back, unless a newer login holds it now
/// (entries are told apart by their `"<node> <session> "` prefix, not by
/// the display name they carry), and then sends the Offline notice in the
/// same step. Returns 1 if it was released.
///
/// KEYS: presence, expiry. ARGV: username key, entry, channel, notice.
pub(crate) fn release() -> Script {
    Script::new(
        r"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.match(cur, '^%S+ %S+ ') == string.match(ARGV[2], '^%S+ %S+ ') then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
",
    )
}

/// A node refreshes its users' entries (their expiry, and a display name
/// changed since), putting back any that expired meanwhile, but never over
/// a newer login's. Returns the entries it put back.
///
/// KEYS: presence, expiry. ARGV: expires at, then username key and entry
/// pairs.
pub(crate) fn refresh() -> Script {
    Script::new(
        r"
local back = {}
for i = 2, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local new = ARGV[i + 1]
  if not cur or string.match(cur, '^%S+ %S+ ') == string.match(new, '^%S+ %S+ ') then
    if not cur then back[#back + 1] = new end
    redis.call('HSET', KEYS[1], ARGV[i], new)
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
  end
end
return back
",
    )
}

/// Removes the entries that expired (their node stopped refreshing them:
/// it died) and returns them, so exactly one node announces each.
///
/// KEYS: presence, expiry. ARGV: now (ms).
pub(crate) fn sweep() -> Script {
    Script::new(
        r"
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
local out = {}
for _, key in ipairs(gone) do
  local entry = redis.call('HGET', KEYS[1], key)
  redis.call('HDEL', KEYS[1], key)
  redis.call('ZREM', KEYS[2], key)
  if entry then out[#out + 1] = entry end
end
return out
",
    )
}

// The Lua scripts behind the Redis store: each store operation is exactly one script call, hence atomic.
//
// Redis runs a script to completion before it serves any other command, so a script that reads counters,
// decides, and writes them cannot interleave with another replica's script: there is no read-modify-write
// race to lose. Time comes from the Redis server (TIME), so every replica agrees on window boundaries
// whatever their own clocks say. Every key a script touches is passed in KEYS (Redis Cluster routes on
// them); the counters of one call share a hash tag, so they live in one slot.

/**
 * KEYS[i]: counter hash {w: window start ms, n: used in that window}
 * ARGV[3i-2], ARGV[3i-1], ARGV[3i]: amount, limit, window ms of KEYS[i]
 * Returns {0} when every counter was charged, or {i, reset at ms, used} for the first refusal (nothing charged).
 */
export const CONSUME_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local starts, useds = {}, {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[3 * i - 2])
  local limit = tonumber(ARGV[3 * i - 1])
  local window = tonumber(ARGV[3 * i])
  local start = now - (now % window)
  local stored = redis.call('HMGET', key, 'w', 'n')
  local used = 0
  if tonumber(stored[1]) == start then used = tonumber(stored[2]) or 0 end
  if used + amount > limit then
    return {i, string.format('%d', start + window), tostring(used)}
  end
  starts[i] = start
  useds[i] = used
end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[3 * i])
  redis.call('HSET', key, 'w', string.format('%d', starts[i]), 'n', tostring(useds[i] + tonumber(ARGV[3 * i - 2])))
  redis.call('PEXPIREAT', key, string.format('%d', starts[i] + window))
end
return {0}
`;

/**
 * KEYS[1]: revocation marker of one token id; ARGV[1]: revoked until, epoch seconds (the token's expiry).
 * The marker expires with the token, so revocations never pile up. Returns 1 when stored, 0 when already past.
 */
export const REVOKE_LUA = `
local t = redis.call('TIME')
local untilAt = tonumber(ARGV[1])
if untilAt <= tonumber(t[1]) then return 0 end
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= untilAt then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[1])
return 1
`;

/** KEYS[1]: revocation marker. Returns 1 when the token id is revoked. */
export const IS_REVOKED_LUA = `
return redis.call('EXISTS', KEYS[1])
`;

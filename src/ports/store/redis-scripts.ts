// The Lua scripts behind the Redis store: each store operation is exactly one script call, hence atomic.
//
// Redis runs a script to completion before it serves any other command, so a script that reads counters,
// decides, and writes them cannot interleave with another replica's script: there is no read-modify-write
// race to lose. Time comes from the Redis server (TIME), so every replica agrees on window boundaries
// whatever their own clocks say. Every key a script touches is passed in KEYS (Redis Cluster routes on
// them); the counters of one call share a hash tag, so they live in one slot.

/**
 * KEYS[1..n]: counter hashes {w: window start ms, n: used in that window}; KEYS[n+1]: the receipt, when ARGV[1] > 0
 * ARGV[1]: receipt lifetime ms (0: no receipt); ARGV[3i-1], ARGV[3i], ARGV[3i+1]: amount, limit, window ms of KEYS[i]
 * Returns {0} when every counter was charged, or {i, reset at ms, used} for the first refusal (nothing charged).
 * The receipt is a hash {counter key (as the script sees it, prefix included): "<window start> <amount>"}.
 */
export const CONSUME_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local receiptTtl = tonumber(ARGV[1])
local n = (#ARGV - 1) / 3
local starts, useds = {}, {}
for i = 1, n do
  local key = KEYS[i]
  local amount = tonumber(ARGV[3 * i - 1])
  local limit = tonumber(ARGV[3 * i])
  local window = tonumber(ARGV[3 * i + 1])
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
for i = 1, n do
  local window = tonumber(ARGV[3 * i + 1])
  redis.call('HSET', KEYS[i], 'w', string.format('%d', starts[i]), 'n', tostring(useds[i] + tonumber(ARGV[3 * i - 1])))
  redis.call('PEXPIREAT', KEYS[i], string.format('%d', starts[i] + window))
  if receiptTtl > 0 then
    redis.call('HSET', KEYS[n + 1], KEYS[i], string.format('%d', starts[i]) .. ' ' .. ARGV[3 * i - 1])
  end
end
if receiptTtl > 0 then redis.call('PEXPIRE', KEYS[n + 1], receiptTtl) end
return {0}
`;

/**
 * KEYS[1]: a receipt CONSUME_LUA wrote; KEYS[2..]: counters to give back. Only counters the receipt names are
 * touched, only in the window it charged, never below zero; the receipt is deleted, so it refunds once.
 * Returns how many counters were given back.
 */
export const REFUND_LUA = `
local refunded = 0
for i = 2, #KEYS do
  local charged = redis.call('HGET', KEYS[1], KEYS[i])
  if charged then
    local space = string.find(charged, ' ', 1, true)
    local start = string.sub(charged, 1, space - 1)
    local amount = tonumber(string.sub(charged, space + 1))
    local stored = redis.call('HMGET', KEYS[i], 'w', 'n')
    if stored[1] == start then
      local left = (tonumber(stored[2]) or 0) - amount
      if left < 0 then left = 0 end
      redis.call('HSET', KEYS[i], 'n', tostring(left))
      refunded = refunded + 1
    end
  end
end
redis.call('DEL', KEYS[1])
return refunded
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

/**
 * Pinned definitions of one scope (src/core/pins). KEYS[1]: learned digests (hash name → digest); KEYS[2]: changed marks
 * (hash name → the approved digest the definition departed from); both share the scope's hash tag.
 * ARGV[1]: '1' to learn first sights; ARGV[2]: '1' to mark changes; then per item: name, digest just seen, config pin
 * ('' when the config pins nothing). One script per list, so two replicas seeing one item first agree on what was learned.
 * Returns per item: the approved digest ('' when none) and '1' when changed (now, or marked against that approval).
 */
export const JUDGE_PINS_LUA = `
local learn = ARGV[1] == '1'
local mark = ARGV[2] == '1'
local out = {}
for i = 3, #ARGV, 3 do
  local name, digest, approved = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if approved == '' then
    approved = redis.call('HGET', KEYS[1], name)
    if not approved then
      approved = ''
      if learn then
        redis.call('HSET', KEYS[1], name, digest)
        approved = digest
      end
    end
  end
  local changed = '0'
  if approved ~= '' then
    if digest ~= approved then
      changed = '1'
      if mark then redis.call('HSET', KEYS[2], name, approved) end
    elseif redis.call('HGET', KEYS[2], name) == approved then
      changed = '1'
    end
  end
  out[#out + 1] = approved
  out[#out + 1] = changed
end
return out
`;

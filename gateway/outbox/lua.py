"""The outbox's Lua scripts. Each state change is one script that checks the current
state first, so counters move exactly once per transition however many workers race.
See ``gateway.outbox.store`` for the key layout."""

# An ordered item (ARGV[i+8] = '1', a ticket's message) records the one queued before it
# for the same origin id ('after'; the chain's tail is outbox:last:<origin>:<id>): a
# worker parks it while that one is still queued (TAKE_LUA).
ENQUEUE_LUA = """
local p, now, n = ARGV[1], ARGV[2], 0
for i = 3, #ARGV, 9 do
  local id = ARGV[i]
  local dk = p .. 'outbox:d:' .. id
  if redis.call('EXISTS', dk) == 0 then
    local origin, oid, target, platform = ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
    local stream = p .. 'outbox:stream:' .. platform .. ':' .. ARGV[i+5]
    redis.call('HSET', dk, 'origin', origin, 'origin_id', oid, 'target', target,
      'platform', platform, 'priority', ARGV[i+5], 'body', ARGV[i+6], 'idem', ARGV[i+7],
      'state', 'queued', 'attempts', 0, 'takes', 0, 'created_at', now, 'updated_at', now)
    redis.call('SADD', p .. 'outbox:origin:' .. origin .. ':' .. oid, id)
    redis.call('HINCRBY', p .. 'outbox:counts:' .. origin .. ':' .. oid, platform .. ':queued', 1)
    redis.call('HINCRBY', p .. 'outbox:pending', platform, 1)
    if ARGV[i+8] == '1' then
      local last_key = p .. 'outbox:last:' .. origin .. ':' .. oid
      local last = redis.call('GET', last_key)
      if last then redis.call('HSET', dk, 'after', last) end
      redis.call('SET', last_key, id)
    end
    redis.call('XADD', stream, '*', 'd', id)
    n = n + 1
  end
end
return n
"""

# ARGV: prefix, id, from_state, to_state, now, reason, retryable, message_ids_json, ttl,
# then (settle only: group, entry id), then the message ids from index @MIDS@.
TRANSITION_CORE = """
local p, id = ARGV[1], ARGV[2]
local dk = p .. 'outbox:d:' .. id
local changed = 0
local cur = redis.call('HMGET', dk, 'state', 'platform', 'origin', 'origin_id', 'target')
if cur[1] == ARGV[3] then
  local to, now = ARGV[4], ARGV[5]
  redis.call('HSET', dk, 'state', to, 'updated_at', now, 'inflight', 0)
  if ARGV[3] == 'queued' then
    redis.call('HSET', dk, 'reason', ARGV[6], 'retryable', ARGV[7], 'message_ids', ARGV[8])
    redis.call('HINCRBY', p .. 'outbox:pending', cur[2], -1)
    -- Final now: the delivery parked behind this one (TAKE_LUA) goes back to its stream.
    local nxt = redis.call('HGET', dk, 'next')
    if nxt then
      local into = redis.call('HGET', p .. 'outbox:d:' .. nxt, 'parked_in')
      if into then redis.call('XADD', into, '*', 'd', nxt) end
      redis.call('HDEL', dk, 'next')
    end
  elseif ARGV[6] ~= '' then
    redis.call('HSET', dk, 'reason', ARGV[6])
  end
  if to == 'sent' then
    redis.call('HSET', dk, 'sent_at', now)
    for i = @MIDS@, #ARGV do
      redis.call('SET', p .. 'msgref:' .. cur[5] .. ':' .. ARGV[i], cur[3] .. ':' .. cur[4],
        'EX', tonumber(ARGV[9]))
    end
  end
  local ck = p .. 'outbox:counts:' .. cur[3] .. ':' .. cur[4]
  redis.call('HINCRBY', ck, cur[2] .. ':' .. ARGV[3], -1)
  redis.call('HINCRBY', ck, cur[2] .. ':' .. to, 1)
  changed = 1
end
"""
TRANSITION_LUA = TRANSITION_CORE.replace("@MIDS@", "10") + "return changed\n"

# A worker's last step for a delivery: the transition, then its stream entry acked and
# deleted when the caller says no hook must run first (KEYS[1] = the stream, ARGV[10] =
# the group or '' for no ack, ARGV[11] = the entry), and the hash as it is now: one
# round trip instead of three.
SETTLE_LUA = (
    TRANSITION_CORE.replace("@MIDS@", "12")
    + """
if ARGV[10] ~= '' then
  redis.call('XACK', KEYS[1], ARGV[10], ARGV[11])
  redis.call('XDEL', KEYS[1], ARGV[11])
end
return {changed, redis.call('HGETALL', dk)}
"""
)

# Point still-queued deliveries at a new body (an edit before they went out).
REBODY_LUA = """
local n = 0
for i = 2, #ARGV do
  local dk = ARGV[1] .. 'outbox:d:' .. ARGV[i]
  if redis.call('HGET', dk, 'state') == 'queued' then
    redis.call('HSET', dk, 'body', KEYS[1])
    n = n + 1
  end
end
return n
"""

# A worker takes a delivery: count the take, become its owner. Returns state, takes,
# inflight, crashes and the whole hash (the worker needs it next). Still in flight means
# its last holder died while sending it: only that counts as a crash against the
# delivery (the new holder has not sent yet). With ARGV[2] (the target directory's hash
# prefix) it also returns the target's state, kind and reason, saving the worker a read.
#
# With ARGV[3..6] (the deliveries' key prefix, the stream, the entry id, the group): a
# delivery that must follow another ('after', see ENQUEUE_LUA) still queued is parked
# instead of taken: its entry is acked and deleted, and the one before names it
# ('next'), so that one's move to a final state (TRANSITION_CORE) adds it to the stream
# again. Checked and parked in one step, so the one before cannot become final in
# between and leave it parked for good. Parked, it holds no worker and costs no reads.
# The same take run again (a lost answer) finds its entry parked and answers the same.
TAKE_LUA = """
local dk = KEYS[1]
if redis.call('EXISTS', dk) == 0 then return false end
if ARGV[5] and ARGV[5] ~= '' then
  local me = redis.call('HMGET', dk, 'state', 'after', 'parked', 'parked_in')
  if me[3] == ARGV[5] and me[4] == ARGV[4] then return {'parked', me[2]} end
  local before = me[2] and ARGV[3] .. me[2]
  if me[1] == 'queued' and before and redis.call('HGET', before, 'state') == 'queued' then
    redis.call('HSET', before, 'next', string.sub(dk, #ARGV[3] + 1))
    redis.call('HSET', dk, 'parked', ARGV[5], 'parked_in', ARGV[4])
    redis.call('XACK', ARGV[4], ARGV[6], ARGV[5])
    redis.call('XDEL', ARGV[4], ARGV[5])
    return {'parked', me[2]}
  end
end
-- The same owner again: this take ran already and its answer was lost (redis-py sends
-- a whole pipeline again after a lost reply). Counting it twice would bring a delivery
-- that was never sent closer to the dead-letter backstop for crashes it did not cause.
local takes
if redis.call('HGET', dk, 'owner') == ARGV[1] then
  takes = tonumber(redis.call('HGET', dk, 'takes') or '1')
else
  takes = redis.call('HINCRBY', dk, 'takes', 1)
  redis.call('HSET', dk, 'owner', ARGV[1])
end
local cur = redis.call('HMGET', dk, 'state', 'inflight', 'crashes')
local crashes = tonumber(cur[3] or '0')
if cur[2] == '1' and cur[1] == 'queued' then
  crashes = redis.call('HINCRBY', dk, 'crashes', 1)
  redis.call('HSET', dk, 'inflight', 0)
end
local t = {}
if ARGV[2] and ARGV[2] ~= '' then
  local target = redis.call('HGET', dk, 'target')
  if target then
    t = redis.call('HMGET', ARGV[2] .. target, 'state', 'kind', 'reason', 'admission')
  end
end
return {cur[1], takes, cur[2] or '0', crashes, redis.call('HGETALL', dk), t}
"""

# Just before a send: still queued and still ours? Then mark it in flight.
BEGIN_LUA = """
local dk = KEYS[1]
local cur = redis.call('HMGET', dk, 'state', 'owner', 'first_attempt_at')
if cur[1] ~= 'queued' then return 'final' end
if cur[2] ~= ARGV[1] then return 'lost' end
redis.call('HSET', dk, 'inflight', 1)
redis.call('HINCRBY', dk, 'attempts', 1)
if not cur[3] then redis.call('HSET', dk, 'first_attempt_at', ARGV[2]) end
return 'ok'
"""

# An entry done with: acked and deleted at once (the stream never needs trimming).
# KEYS: the stream, the delivery's hash. An entry whose delivery is still queued *on this
# server* is not acked (returns -1): its settle was lost, as when a Redis failover put
# the settle on a demoted primary and this ack on the new one. Left pending, it is taken
# over and sent; acked, nobody would ever send it and its announcement would never end.
ACK_LUA = """
if redis.call('HGET', KEYS[2], 'state') == 'queued' then return -1 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""

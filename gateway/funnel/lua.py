"""The ticket store's Lua scripts: each ticket change is one atomic step in Redis.

Why Lua and not MULTI: the decisions depend on what is stored (is this platform
message already in a ticket? is the open ticket still open? who holds the claim?),
and they must be taken and applied without another palm process slipping in between.
A consumer killed at any point either did the whole step or none of it, and the
redelivered entry finds its message already stored.

Keys are built inside the scripts from the prefix (ARGV[1]): palm runs on a single
Redis, never a cluster. Layout (P = prefix)::

    P ticket:seq                          counter behind T-<n>
    P ticket:<id>                         hash: the ticket's fields
    P ticket:<id>:messages                list of JSON: the conversation, in order
    P ticket:<id>:history                 list of JSON: status changes (time, actor)
    P ticket:<id>:outbound                hash delivery id -> JSON: what palm sent, and how it went
    P ticket:bymsg                        hash "<target>|<message id>" -> "<id>#<index>"
    P ticket:botmsg                       hash "<target>|<message id>" -> id (palm's own sends)
    P ticket:open                         hash "<target>|<user id>" -> id (open, direct chats)
    P ticket:latest                       hash "<target>|<user id>" -> the newest ticket there
    P tickets:idx:<status>[:kind:<k>]     sorted sets for listing (urgent first, then oldest)
    P tickets:idx:all[:kind:<k>]
    P tickets:age:<status>                sorted sets by received time (oldest age)
    P tickets:counts                      hash of open-ticket counts: kind:*, category:*, priority:*
    P tickets:target:<target>             set of the ids of the tickets from that chat (scopes;
                                          see gateway.funnel.bytarget)
    P tickets:events                      stream: {ticket, event, ...} per change (staff rooms)
"""

from __future__ import annotations

# Shared helpers, prepended to every script.
_COMMON = """
local P = ARGV[1]
local function tkey(id, suffix)
  if suffix then return P .. 'ticket:' .. id .. ':' .. suffix end
  return P .. 'ticket:' .. id
end
local function score(priority, received)
  local rank = 1
  if priority == 'urgent' then rank = 0 end
  return rank * 1e13 + math.floor(tonumber(received) * 1000)
end
local function idx(status, kind)
  return {P .. 'tickets:idx:' .. status, P .. 'tickets:idx:' .. status .. ':kind:' .. kind,
          P .. 'tickets:idx:all', P .. 'tickets:idx:all:kind:' .. kind}
end
local function index_add(id, status, kind, s, received)
  for _, k in ipairs(idx(status, kind)) do redis.call('ZADD', k, s, id) end
  if status ~= 'resolved' then redis.call('ZADD', P .. 'tickets:age:' .. status, received, id) end
end
local function index_rem(id, status, kind)
  local ks = idx(status, kind)
  redis.call('ZREM', ks[1], id)
  redis.call('ZREM', ks[2], id)
  redis.call('ZREM', P .. 'tickets:age:' .. status, id)
end
local function counts(t, delta)
  local c = P .. 'tickets:counts'
  redis.call('HINCRBY', c, 'kind:' .. t.kind, delta)
  redis.call('HINCRBY', c, 'category:' .. t.category, delta)
  redis.call('HINCRBY', c, 'priority:' .. t.priority, delta)
end
local function load(id)
  local flat = redis.call('HGETALL', tkey(id))
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
-- One entry per change, written in the same atomic step as the change, so whoever
-- follows tickets (staff rooms) misses none and sees none twice. Capped far above any
-- real backlog; consumers delete what they handled.
local function event(id, kind, extra)
  local a = {'XADD', P .. 'tickets:events', 'MAXLEN', '~', '100000', '*', 'ticket', id,
             'event', kind}
  if extra then
    for k, v in pairs(extra) do
      table.insert(a, k)
      table.insert(a, tostring(v))
    end
  end
  redis.call(unpack(a))
end
local function history(id, now, actor, action, extra)
  local h = {at = tonumber(now), actor = actor, action = action}
  if extra then for k, v in pairs(extra) do h[k] = v end end
  redis.call('RPUSH', tkey(id, 'history'), cjson.encode(h))
end
"""

# ARGV: 1 prefix, 2 action new|follow|attach|edit, 3 ticket id (follow, attach), 4 msg field
# "<target>|<message id>", 5 open field "<target>|<user>" ('' in groups), 6 message JSON,
# 7 ticket fields JSON (new), 8 now, 9 edit field "<target>|<edit_of>", 10 new text (edit)
# Returns {ticket id, index, outcome}; outcome: created | appended | duplicate | edited | lost
# | limited (attach found the ticket resolved: nothing stored)
APPLY_INBOUND = (
    _COMMON
    + """
local action, follow, field, openf = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now = ARGV[8]
local bymsg = P .. 'ticket:bymsg'

if action == 'edit' then
  local where = redis.call('HGET', bymsg, ARGV[9])
  if not where then return {'', -1, 'lost'} end
  local id, i = string.match(where, '^(.+)#(%d+)$')
  local raw = redis.call('LINDEX', tkey(id, 'messages'), tonumber(i))
  if not raw then return {id, -1, 'lost'} end
  local m = cjson.decode(raw)
  m.text = ARGV[10]
  m.edited_at = tonumber(now)
  redis.call('LSET', tkey(id, 'messages'), tonumber(i), cjson.encode(m))
  redis.call('HSET', tkey(id), 'updated_at', now)
  return {id, tonumber(i), 'edited'}
end

-- The same platform message never makes two tickets or two entries.
local seen = redis.call('HGET', bymsg, field)
if seen then
  local id, i = string.match(seen, '^(.+)#(%d+)$')
  return {id, tonumber(i), 'duplicate'}
end

local fields = cjson.decode(ARGV[7])
local target_id = nil
-- Re-check what routing saw: the ticket to join must still be open. In a direct chat
-- the resident's open ticket wins even if routing (a stale snapshot, or another
-- process handling the previous message right now) said "new".
if action == 'follow' or action == 'attach' then
  local t = load(follow)
  if t and t.status ~= 'resolved' then target_id = follow end
end
if not target_id and openf ~= '' then
  local open = redis.call('HGET', P .. 'ticket:open', openf)
  if open then
    local t = load(open)
    if t and t.status ~= 'resolved' then target_id = open end
  end
end

if target_id then
  local t = load(target_id)
  local n = redis.call('RPUSH', tkey(target_id, 'messages'), ARGV[6]) - 1
  redis.call('HSET', bymsg, field, target_id .. '#' .. n)
  redis.call('HSET', tkey(target_id), 'messages', n + 1, 'updated_at', now)
  -- A follow-up may reveal urgency ("now water everywhere"): raise, never lower.
  if fields.priority == 'urgent' and t.priority ~= 'urgent' then
    counts(t, -1)
    index_rem(target_id, t.status, t.kind)
    t.priority = 'urgent'
    counts(t, 1)
    index_add(target_id, t.status, t.kind, score('urgent', t.received_at), t.received_at)
    redis.call('HSET', tkey(target_id), 'priority', 'urgent')
    history(target_id, now, 'rules', 'priority', {to = 'urgent'})
  end
  event(target_id, 'message', {index = n})
  if t.category == 'other' and fields.category ~= 'other' then
    redis.call('HINCRBY', P .. 'tickets:counts', 'category:other', -1)
    redis.call('HINCRBY', P .. 'tickets:counts', 'category:' .. fields.category, 1)
    redis.call('HSET', tkey(target_id), 'category', fields.category)
  end
  return {target_id, n, 'appended'}
end
-- 'attach' (a message over a flood limit) joins an open ticket or nothing: never a new one.
if action == 'attach' then return {'', -1, 'limited'} end

local id = 'T-' .. redis.call('INCR', P .. 'ticket:seq')
fields.id = id
fields.status = 'new'
fields.messages = 1
fields.created_at = now
fields.updated_at = now
local flat = {}
for k, v in pairs(fields) do
  table.insert(flat, k)
  table.insert(flat, tostring(v))
end
redis.call('HSET', tkey(id), unpack(flat))
redis.call('RPUSH', tkey(id, 'messages'), ARGV[6])
redis.call('HSET', bymsg, field, id .. '#0')
if openf ~= '' then redis.call('HSET', P .. 'ticket:open', openf, id) end
redis.call('HSET', P .. 'ticket:latest', fields.target .. '|' .. fields.resident_id, id)
index_add(id, 'new', fields.kind, score(fields.priority, fields.received_at), fields.received_at)
redis.call('SADD', P .. 'tickets:target:' .. fields.target, id)
counts(fields, 1)
history(id, now, 'resident', 'created', {status = 'new'})
event(id, 'created')
if fields.announcement and fields.announcement ~= '' then
  redis.call('SADD', P .. 'announcement:' .. fields.announcement .. ':replies', id)
end
return {id, 0, 'created'}
"""
)

# ARGV: 1 prefix, 2 id, 3 actor, 4 force '1'|'0', 5 now
# Returns {'ok', previous status, previous assignee} | {'missing'} | {'resolved'}
#       | {'conflict', assignee}
CLAIM = (
    _COMMON
    + """
local id, actor, force, now = ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local t = load(id)
if not t then return {'missing'} end
if t.status == 'resolved' then return {'resolved'} end
local holder = t.assignee or ''
if t.status == 'claimed' and holder == actor then return {'ok', 'claimed', holder} end
if t.status == 'claimed' and not force then return {'conflict', holder} end
index_rem(id, t.status, t.kind)
index_add(id, 'claimed', t.kind, score(t.priority, t.received_at), t.received_at)
redis.call('HSET', tkey(id), 'status', 'claimed', 'assignee', actor, 'claimed_at', now,
  'updated_at', now)
local extra = {from = t.status, to = 'claimed'}
if holder ~= '' then extra.previous_assignee = holder end
history(id, now, actor, 'claimed', extra)
event(id, 'claimed', {actor = actor})
return {'ok', t.status, holder}
"""
)

# ARGV: 1 prefix, 2 id, 3 actor, 4 outbound JSON (without delivery id), 5 now,
# 6 reply number (allocated beforehand, so the outbox item can be written in the same
# MULTI). A reply to a `new` ticket claims it for the replier; the first reply sets
# first_response_at. Returns {'ok', reply number, seconds to first response or ''}
# | {'missing'}
REPLY = (
    _COMMON
    + """
local id, actor, now = ARGV[2], ARGV[3], ARGV[5]
local t = load(id)
if not t then return {'missing'} end
local n = tonumber(ARGV[6])
redis.call('HINCRBY', tkey(id), 'replies', 1)
local delivery = id .. ':reply:' .. n
local out = cjson.decode(ARGV[4])
out.delivery_id = delivery
out.state = 'queued'
redis.call('HSET', tkey(id, 'outbound'), delivery, cjson.encode(out))
redis.call('RPUSH', tkey(id, 'messages'), cjson.encode(
  {direction = 'out', actor = actor, text = out.text, at = tonumber(now), delivery_id = delivery}))
redis.call('HSET', tkey(id), 'updated_at', now)
if t.status == 'new' then
  index_rem(id, 'new', t.kind)
  index_add(id, 'claimed', t.kind, score(t.priority, t.received_at), t.received_at)
  redis.call('HSET', tkey(id), 'status', 'claimed', 'assignee', actor, 'claimed_at', now)
  history(id, now, actor, 'claimed', {from = 'new', to = 'claimed', implicit = true})
  event(id, 'claimed', {actor = actor})
end
history(id, now, actor, 'replied', {delivery_id = delivery})
event(id, 'replied', {actor = actor, delivery = delivery})
local first = ''
if not t.first_response_at or t.first_response_at == '' then
  redis.call('HSET', tkey(id), 'first_response_at', now)
  first = tostring(tonumber(now) - tonumber(t.received_at))
end
return {'ok', n, first}
"""
)

# ARGV: 1 prefix, 2 id, 3 actor, 4 note, 5 outbound JSON, 6 now
# Returns {'ok', delivery id} | {'missing'} | {'resolved'}
RESOLVE = (
    _COMMON
    + """
local id, actor, note, now = ARGV[2], ARGV[3], ARGV[4], ARGV[6]
local t = load(id)
if not t then return {'missing'} end
if t.status == 'resolved' then return {'resolved'} end
index_rem(id, t.status, t.kind)
index_add(id, 'resolved', t.kind, score(t.priority, t.received_at), t.received_at)
counts(t, -1)
redis.call('HSET', tkey(id), 'status', 'resolved', 'note', note, 'resolved_at', now,
  'resolved_by', actor, 'updated_at', now)
if t.open_field and t.open_field ~= '' then
  if redis.call('HGET', P .. 'ticket:open', t.open_field) == id then
    redis.call('HDEL', P .. 'ticket:open', t.open_field)
  end
end
local delivery = id .. ':resolved'
local out = cjson.decode(ARGV[5])
out.delivery_id = delivery
out.state = 'queued'
redis.call('HSET', tkey(id, 'outbound'), delivery, cjson.encode(out))
history(id, now, actor, 'resolved', {from = t.status, to = 'resolved', note = note})
event(id, 'resolved', {actor = actor})
return {'ok', delivery}
"""
)

# An inbound entry done with: acked and deleted at once. KEYS: the inbound stream,
# ticket:bymsg, then the outbox hash of every delivery the entry queued. ARGV: 1 group,
# 2 entry id, 3 the bymsg field of the message the entry stored ('' when none). Returns
# -1, and acks nothing, when one of them is missing *on this server*: a Redis failover
# put the write on a demoted primary and this ack on the new one. Acked, the resident's
# message (or its acknowledgement) would be lost. The staff-room feed acks with it too
# (no message field: its cards' deliveries only).
SETTLE_ENTRY = """
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return -1 end
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then return -1 end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""

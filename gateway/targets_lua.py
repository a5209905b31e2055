"""The targets directory's Lua scripts and the admission values they keep.

A target's ``admission`` is the admins' decision (see ``gateway.admission``): only a
target that is active AND approved sits in the active indexes audiences read, so the
indexes and the decision must change in one atomic step.
"""

from __future__ import annotations

APPROVED = "approved"
PENDING = "pending"
REJECTED = "rejected"
ADMISSIONS = (APPROVED, PENDING, REJECTED)

# Keep the pending and active indexes in line with a target's stored fields.
_INDEX_LUA = """
local function reindex(P, id, h)
  local f = redis.call('HMGET', h, 'state', 'kind', 'admission')
  local adm = f[3] or 'approved'
  if adm == 'pending' then redis.call('SADD', P .. 'targets:pending', id)
  else redis.call('SREM', P .. 'targets:pending', id) end
  if f[1] == 'active' and adm == 'approved' then
    redis.call('SADD', P .. 'targets:active', id)
    if f[2] == 'group' then redis.call('SADD', P .. 'targets:active:group', id)
    else redis.call('SREM', P .. 'targets:active:group', id) end
  else
    redis.call('SREM', P .. 'targets:active', id)
    redis.call('SREM', P .. 'targets:active:group', id)
  end
end
"""

# Register or refresh one target, keeping the admins' decision (admission) and the
# active indexes consistent with it in one step (an approval may race a re-register).
# ARGV: prefix, id, platform, kind, title ('' keeps it), reason ('' = active), now,
# admission of a chat not known yet, admission to set ('' keeps the stored one).
# Returns {admission, 1 if the target was new else 0}.
UPSERT_LUA = (
    _INDEX_LUA
    + """
local P, id = ARGV[1], ARGV[2]
local h = P .. 'target:' .. id
local existed = redis.call('EXISTS', h) == 1
local adm = ARGV[9]
if adm == '' then adm = redis.call('HGET', h, 'admission') or '' end
if adm == '' then
  if existed then adm = 'approved' else adm = ARGV[8] end
end
local state = 'active'
if ARGV[6] ~= '' then state = 'inactive' end
redis.call('HSET', h, 'platform', ARGV[3], 'kind', ARGV[4], 'state', state, 'reason', ARGV[6],
  'admission', adm, 'updated_at', ARGV[7])
if ARGV[5] ~= '' then redis.call('HSET', h, 'title', ARGV[5]) end
redis.call('SADD', P .. 'targets:all', id)
reindex(P, id, h)
if existed then return {adm, 0} end
return {adm, 1}
"""
)

# An admin's decision on a known target; the platform side (state) is left as it is.
# ARGV: prefix, id, admission, now. Returns 0 when there is no such target.
ADMIT_LUA = (
    _INDEX_LUA
    + """
local P, id = ARGV[1], ARGV[2]
local h = P .. 'target:' .. id
if redis.call('EXISTS', h) == 0 then return 0 end
redis.call('HSET', h, 'admission', ARGV[3], 'updated_at', ARGV[4])
reindex(P, id, h)
return 1
"""
)

# A group's new name, seen on one of its messages. Never creates a target: a chat
# removed meanwhile must not come back as a hash with only a title.
RETITLE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'title', ARGV[1])
return 1
"""

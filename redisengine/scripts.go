package redisengine

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// The Lua scripts. Lua 5.1 in Redis turns a number into a string with %.14g
// when it is concatenated or passed to tostring — a 16-digit id would come
// out as 1.7961e+15 —, so every id is formatted with fmt (%d). Ids stay
// below 2^53, where doubles are exact.

// prelude holds the functions the scripts share.
const prelude = `
local function fmt(n) return string.format('%d', n) end

-- runid returns the run id of this Redis process. INFO costs about as much
-- as a whole publish, so the answer is cached in a key for 100 ms: a restart
-- or a failover is seen within that, and a snapshot restored later holds
-- the cache long expired.
local function runid(key)
  local v = redis.call('GET', key)
  if v then return v end
  v = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
  redis.call('SET', key, v, 'PX', 100)
  return v
end

-- incarnation returns the channel's base and last id; run is this Redis
-- process's run id (runid). It starts a new
-- incarnation when the channel has none, when its incarnation was started by
-- another Redis process (a restart, a restored snapshot, a failover: the run
-- id differs), or when Redis holds less of it than the caller has seen (a
-- rollback). The new base is at least TIME in microseconds, above the
-- caller's high-water mark and above every id Redis still holds for the
-- channel; its stream starts empty.
local function incarnation(meta, stream, run, hw, seenBase, seenLast, ttl)
  local m = redis.call('HMGET', meta, 'base', 'last', 'run')
  local base, last = tonumber(m[1]), tonumber(m[2])
  if base and last and m[3] == run and not (base == seenBase and last < seenLast) then
    return base, last
  end
  local t = redis.call('TIME')
  local nb = tonumber(t[1]) * 1000000 + tonumber(t[2])
  nb = math.max(nb, hw + 1, (last or 0) + 1, seenLast + 1)
  local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if top[1] then
    nb = math.max(nb, tonumber(string.match(top[1][1], '^%d+')) + 1)
  end
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'base', fmt(nb), 'last', fmt(nb), 'run', run)
  redis.call('PEXPIRE', meta, ttl)
  return nb, nb
end

-- leasesOf returns the node leases of a partition: node id -> end (Unix ms).
local function leasesOf(nodes)
  local leases = {}
  local l = redis.call('HGETALL', nodes)
  for i = 1, #l, 2 do leases[l[i]] = tonumber(l[i + 1]) end
  return leases
end

-- countLive sums the channel's subscribers on every node whose lease is
-- live at now (Unix ms), except the node skip.
local function countLive(counts, leases, skip, now)
  local c = redis.call('HGETALL', counts)
  local n = 0
  for i = 1, #c, 2 do
    local until_ = leases[c[i]]
    if c[i] ~= skip and until_ and until_ > now then n = n + tonumber(c[i + 1]) end
  end
  return n
end

local function subscribers(counts, nodes, skip, now)
  return countLive(counts, nodes and leasesOf(nodes) or {}, skip, now)
end
`

// publishScript appends events of one partition, in order: for each it
// assigns the id, appends it to the capped stream, refreshes the TTLs and
// publishes it. One run serves a whole batch of the partition (what the
// publishers gathered in one round), so the script's fixed cost and the
// partition's leases and run id are paid once per batch, not per event.
// Per event it returns {id, base, subscribers of the other live nodes}, or
// an error string.
//
//	KEYS: nodes, rv, then per event: meta, stream, counts, pub/sub channel
//	ARGV: high-water mark, MAXLEN, TTL ms, "S" (sharded) or "P", node id, now ms,
//	      then per event: seen base, seen last, event, data
var publishScript = newScript(prelude + `
local run = runid(KEYS[2])
local hw, maxlen, ttl, node, now = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[5], tonumber(ARGV[6])
local sharded = ARGV[4] == 'S'
local leases = leasesOf(KEYS[1])
local out = {}
for j = 0, (#KEYS - 2) / 4 - 1 do
  local meta, stream, counts, ch = KEYS[3 + 4 * j], KEYS[4 + 4 * j], KEYS[5 + 4 * j], KEYS[6 + 4 * j]
  local a = 7 + 4 * j
  local base, last = incarnation(meta, stream, run, hw, tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ttl)
  last = last + 1
  if last >= 9007199254740992 then
    out[j + 1] = 'ERR realtime: id space exhausted'
  else
    local id = fmt(last)
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id .. '-0', 'e', ARGV[a + 2], 'd', ARGV[a + 3])
    redis.call('HSET', meta, 'last', id)
    redis.call('PEXPIRE', meta, ttl)
    redis.call('PEXPIRE', stream, ttl)
    local msg = fmt(base) .. ' ' .. id .. ' ' .. ARGV[a + 2] .. ' ' .. ARGV[a + 3]
    if sharded then redis.call('SPUBLISH', ch, msg) else redis.call('PUBLISH', ch, msg) end
    out[j + 1] = {id, fmt(base), countLive(counts, leases, node, now)}
  end
end
return out
`)

// historyScript returns a channel's incarnation and buffered events (the
// newest MAXLEN: the stream is trimmed approximately, in whole nodes,
// which costs a tenth of exact trimming per append), and refreshes its TTL:
// what a node reads to build or repair its mirror.
//
//	KEYS: meta, stream, rv
//	ARGV: high-water mark, seen base, seen last, TTL ms, MAXLEN
//	returns {base, last, {{entry id, {"e", event, "d", data}}, ...}} oldest first
var historyScript = newScript(prelude + `
local base, last = incarnation(KEYS[1], KEYS[2], runid(KEYS[3]), tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[5])
local events = {}
for i = #newest, 1, -1 do events[#events + 1] = newest[i] end
return {fmt(base), fmt(last), events}
`)

// infoScript returns a channel's info, counting every live node's
// subscribers, or nil when the channel has no incarnation of this Redis
// process (it does not exist).
//
//	KEYS: meta, stream, counts, nodes, rv
//	ARGV: now ms, MAXLEN
//	returns {last, oldest, buffered, subscribers}
var infoScript = newScript(prelude + `
local m = redis.call('HMGET', KEYS[1], 'last', 'run')
if not m[1] or m[2] ~= runid(KEYS[5]) then return false end
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[2])
local oldest = fmt(tonumber(m[1]) + 1)
if newest[1] then oldest = string.match(newest[#newest][1], '^%d+') end
return {m[1], oldest, #newest, subscribers(KEYS[3], KEYS[4], '', tonumber(ARGV[1]))}
`)

// countScript writes this node's number of streams on a channel and
// returns the channel's streams on every live node before and after, so
// that the node whose write empties or first fills a channel, and only it,
// reports the transition (lifecycle webhooks). This node counts whatever
// its lease says; its key TTLs are refreshed while it has streams.
//
//	KEYS: counts, nodes, meta, stream
//	ARGV: node id, streams, now ms, TTL ms
//	returns {before, after}
var countScript = newScript(prelude + `
local others = subscribers(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[3]))
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local n = tonumber(ARGV[2])
if n == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  for i = 1, 4 do if i ~= 2 then redis.call('PEXPIRE', KEYS[i], ARGV[4]) end end
end
return {others + old, others + n}
`)

// deleteScript ends a channel's incarnation for DELETE /channels/{channel}
// (SPEC 3.9): its buffer is dropped and its base moved up to its last id,
// so a resume from an earlier id gets buffer_gap and the next event is
// numbered above every earlier one, as in the memory engine.
//
//	KEYS: meta, stream, rv
var deleteScript = newScript(prelude + `
local m = redis.call('HMGET', KEYS[1], 'last', 'run')
redis.call('DEL', KEYS[2])
if m[1] and m[2] == runid(KEYS[3]) then redis.call('HSET', KEYS[1], 'base', m[1]) end
return 1
`)

// script is a Lua script run with EVALSHA, falling back to EVAL (which
// loads it) when Redis answers NOSCRIPT, as after a restart. Unlike
// rueidis.Lua.ExecMulti it loads nothing up front: a batch is one round.
type script struct {
	src, sha string // immutable
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// exec runs the script once.
func (s *script) exec(ctx context.Context, c rueidis.Client, keys, args []string) rueidis.RedisResult {
	r := c.Do(ctx, c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	if noScript(r.Error()) {
		r = c.Do(ctx, c.B().Eval().Script(s.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	}
	return r
}

// call is one run of a script in a batch.
type call struct{ keys, args []string }

// execMulti runs the script once per call in one pipelined round (one per
// Cluster node), and once more with EVAL for the calls answered NOSCRIPT.
func (s *script) execMulti(ctx context.Context, c rueidis.Client, calls []call) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(calls))
	for i, x := range calls {
		cmds[i] = c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(x.keys))).Key(x.keys...).Arg(x.args...).Build()
	}
	res := c.DoMulti(ctx, cmds...)
	var again []int
	for i, r := range res {
		if noScript(r.Error()) {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return res
	}
	retry := make(rueidis.Commands, len(again))
	for j, i := range again {
		x := calls[i]
		retry[j] = c.B().Eval().Script(s.src).Numkeys(int64(len(x.keys))).Key(x.keys...).Arg(x.args...).Build()
	}
	for j, r := range c.DoMulti(ctx, retry...) {
		res[again[j]] = r
	}
	return res
}

// noScript reports a NOSCRIPT answer: the script is not in Redis's cache
// (and did not run).
func noScript(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && re.IsNoScript()
}

#pragma once
// The server-side Lua scripts of the Redis broker (docs/scaling.md). Each runs atomically in
// Redis, so every sidecar sees one order of seqs per room.
//   rp:{ROOM}        hash: epoch, seq
//   rp:{ROOM}:log    stream: one entry "SEQ-0" per message, fields e (event), d (data), t (ts)
//                    and, for a browser's message, f (from)
//   rp:{ROOM}:id:ID  the seq a publish with idempotency key ID got (with a TTL)
//   rp:{ROOM}:own:M  field ~NODE.BOOT.N: the same for the node-made keys of minute M
//   rp:{ROOM}:ch     the room's sharded pub/sub channel (SPUBLISH): the nodes with members

namespace rp::sidecar::scripts {

// A room is created on first use with the epoch the caller offers; a stream left from an
// earlier life of the room is dropped with it, so seqs restart cleanly.
#define RP_ENSURE_ROOM                                          \
    "local epoch = redis.call('HGET', KEYS[1], 'epoch')\n"      \
    "if not epoch then\n"                                       \
    "  epoch = ARGV[1]\n"                                       \
    "  redis.call('DEL', KEYS[2])\n"                            \
    "  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)\n" \
    "end\n"

// Publishes one or more messages, in order: the pipeline puts the publishes waiting together
// into one call, since Redis spends most of a short script's time entering Lua (about 6 of the
// 9 µs one publish took alone), not in its calls. KEYS, per publish: room hash, stream,
// idempotency key (a string key, or with a field the hash holding the node's own keys). ARGV:
// count, maxlen, room ttl s; then per publish: new epoch, room, event, data, ts, id ttl s,
// channel, from ("" for the server's), field ("": the key is a string), flags. Returns one
// element per publish: {1, seq, epoch, receivers} (receivers: the nodes subscribed to the room),
// {0, seq, epoch} for a repeated idempotency key, or the error of that publish alone (the others
// still run). The channel's payload is version 1 for the server's messages and 2, with the
// sender, for a browser's. The flags (publish_marks.h) say what the node knows need not be
// asked, each a call fewer: 'n' a node-made key sent for the first time (not looked up), 'e'
// the first write to the hash of node-made keys (expire it), 'r' renew the room's TTLs (the node
// asks once a tenth of the TTL has passed; a room made here gets its hash's at once, since a
// repeated key returns before the stream is written, and a room's first message, here or after
// the fetch script made the room, its stream's). A READONLY (the
// server was demoted: no publish of the call wrote anything) is the whole call's error, so that
// the node reconnects to the new master and sends it again.
inline constexpr const char* kPublish =
    "local function publish(k, a)\n"
    "  local room, stream = KEYS[k], KEYS[k + 1]\n"
    "  local flags = ARGV[a + 9]\n"
    "  local epoch = redis.call('HGET', room, 'epoch')\n"
    "  if not epoch then\n"
    "    epoch = ARGV[a]\n"
    "    redis.call('DEL', stream)\n"
    "    redis.call('HSET', room, 'epoch', epoch, 'seq', 0)\n"
    "    redis.call('EXPIRE', room, ARGV[3])\n"
    "  end\n"
    "  local field = ARGV[a + 8]\n"
    "  if string.byte(flags, 1) ~= 110 then\n"  // 'n'
    "    local seen\n"
    "    if field == '' then seen = redis.call('GET', KEYS[k + 2])\n"
    "    else seen = redis.call('HGET', KEYS[k + 2], field) end\n"
    "    if seen then return {0, tonumber(seen), epoch} end\n"
    "  end\n"
    "  local seq = redis.call('HINCRBY', room, 'seq', 1)\n"
    "  local event, data, ts, from = ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 7]\n"
    "  if from == '' then\n"
    "    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', event, 'd', data,"
    " 't', ts)\n"
    "  else\n"
    "    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', event, 'd', data,"
    " 't', ts, 'f', from)\n"
    "  end\n"
    "  if field == '' then redis.call('SET', KEYS[k + 2], seq, 'EX', ARGV[a + 5])\n"
    "  else\n"
    "    redis.call('HSET', KEYS[k + 2], field, seq)\n"
    "    if string.find(flags, 'e', 1, true) then redis.call('EXPIRE', KEYS[k + 2], ARGV[a + 5])"
    " end\n"
    "  end\n"
    "  if string.find(flags, 'r', 1, true) then\n"
    "    redis.call('EXPIRE', room, ARGV[3])\n"
    "    redis.call('EXPIRE', stream, ARGV[3])\n"
    "  elseif seq == 1 then redis.call('EXPIRE', stream, ARGV[3]) end\n"
    "  local head = ARGV[a + 1] .. '\\n' .. epoch .. '\\n' .. seq .. '\\n' .. ts .. '\\n' .. "
    "event\n"
    "  local payload = '1\\n' .. head .. '\\n' .. data\n"
    "  if from ~= '' then payload = '2\\n' .. head .. '\\n' .. from .. '\\n' .. data end\n"
    "  return {1, seq, epoch, redis.call('SPUBLISH', ARGV[a + 6], payload)}\n"
    "end\n"
    "local out = {}\n"
    "for i = 0, tonumber(ARGV[1]) - 1 do\n"
    "  local ok, result = pcall(publish, 3 * i + 1, 4 + 10 * i)\n"
    "  if not ok then\n"
    "    result = tostring(result)\n"
    "    if string.sub(result, 1, 8) == 'READONLY' then return redis.error_reply(result) end\n"
    "    result = redis.error_reply(result)\n"
    "  end\n"
    "  out[i + 1] = result\n"
    "end\n"
    "return out\n";

// KEYS: room hash, stream. ARGV: new epoch, mode ("tail": the last COUNT, "after": what
// follows AFTER, "read": like after but never creates the room), after, count, room ttl s.
// Returns {epoch, head, entries} (entries as XRANGE gives them, oldest first), or {} when
// mode is "read" and there is no such room.
inline constexpr const char* kFetch =
    "if ARGV[2] == 'read' and redis.call('EXISTS', KEYS[1]) == 0 then return {} "
    "end\n" RP_ENSURE_ROOM
    "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "local head = tonumber(redis.call('HGET', KEYS[1], 'seq'))\n"
    "local entries\n"
    "if ARGV[2] == 'tail' then\n"
    "  local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[4])\n"
    "  entries = {}\n"
    "  for i = #newest, 1, -1 do entries[#entries + 1] = newest[i] end\n"
    "else\n"
    "  entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[3]) + 1) .. '-0', '+', 'COUNT',"
    " ARGV[4])\n"
    "end\n"
    "return {epoch, head, entries}\n";

#undef RP_ENSURE_ROOM

}  // namespace rp::sidecar::scripts

#pragma once
// The server-side Lua scripts of the Redis broker (docs/scaling.md). Each runs atomically in
// Redis, so every sidecar sees one order of seqs per room.
//   rp:{ROOM}        hash: epoch, seq
//   rp:{ROOM}:log    stream: one entry "SEQ-0" per message, fields e (event), d (data), t (ts)
//                    and, for a browser's message, f (from)
//   rp:{ROOM}:id:ID  the seq a publish with idempotency key ID got (with a TTL)
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

// KEYS: room hash, stream[, idempotency key]. ARGV: new epoch, room, event, data, ts, maxlen,
// id ttl s, room ttl s, channel, from ("" for the server's). Returns {1, seq, epoch, receivers}
// (receivers: the nodes subscribed to the room) or {0, seq, epoch} for a repeated idempotency
// key. The channel's payload is version 1 for the server's messages and 2, with the sender,
// for a browser's. (Renewing the TTLs less often than every publish was tried: Redis spends
// most of the script's 9 µs entering Lua, not in its calls; it bought nothing measurable.)
inline constexpr const char* kPublish = RP_ENSURE_ROOM
    "if #KEYS == 3 then\n"
    "  local seen = redis.call('GET', KEYS[3])\n"
    "  if seen then return {0, tonumber(seen), epoch} end\n"
    "end\n"
    "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
    "if ARGV[10] == '' then\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], seq .. '-0', 'e', ARGV[3], 'd',"
    " ARGV[4], 't', ARGV[5])\n"
    "else\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], seq .. '-0', 'e', ARGV[3], 'd',"
    " ARGV[4], 't', ARGV[5], 'f', ARGV[10])\n"
    "end\n"
    "if #KEYS == 3 then redis.call('SET', KEYS[3], seq, 'EX', ARGV[7]) end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[8])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[8])\n"
    "local head = ARGV[2] .. '\\n' .. epoch .. '\\n' .. seq .. '\\n' .. ARGV[5] .. '\\n' .. "
    "ARGV[3]\n"
    "local payload = '1\\n' .. head .. '\\n' .. ARGV[4]\n"
    "if ARGV[10] ~= '' then payload = '2\\n' .. head .. '\\n' .. ARGV[10] .. '\\n' .. ARGV[4] end\n"
    "local n = redis.call('SPUBLISH', ARGV[9], payload)\n"
    "return {1, seq, epoch, n}\n";

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

#pragma once
// What the sidecars say to each other through Redis (docs/scaling.md): the pub/sub payload of a
// published message and the stream entry ids. Pure text; the hiredis calls are in
// redis_broker.cpp. Anything that does not parse is refused, never trusted.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker.h"
#include "roompush/error.h"

namespace rp::sidecar {

// "1\nROOM\nEPOCH\nSEQ\nTS\nEVENT\nDATA": room, epoch and event cannot hold a newline, DATA is
// unformatted JSON (no raw newlines either) and comes last. The Lua script writes it; a
// browser's message is "2\n…\nEVENT\nFROM\nDATA".
Result<BrokerMessage> decode_pubsub_payload(std::string_view payload);
std::string encode_pubsub_payload(const BrokerMessage& message);  // for tests and tools

// Presence on the same channel, sent by a node itself (not by a script):
// "3\nROOM\nNODE\nTYPE\nMEMBER", TYPE join or leave, MEMBER a JSON object on one line.
inline bool is_presence_payload(std::string_view payload) { return payload.starts_with("3\n"); }
Result<PresenceChange> decode_presence_payload(std::string_view payload);
std::string encode_presence_payload(const PresenceChange& change);

// Stream entries are added with the id "SEQ-0", so a seq range is an id range.
std::optional<uint64_t> seq_of_stream_id(std::string_view id);
std::optional<uint64_t> parse_u64(std::string_view text);
std::optional<int64_t> parse_i64(std::string_view text);

// 16 hex digits, as the memory broker makes them (an epoch from Redis must look the same).
bool is_valid_epoch(std::string_view epoch);

}  // namespace rp::sidecar

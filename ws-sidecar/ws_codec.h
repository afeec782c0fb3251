#pragma once
// The WebSocket JSON protocol (docs/websocket.md): what the sidecar sends, and the commands a
// client may send on /ws.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/json.h"

namespace rp::sidecar {

struct MessageFields {
    std::string_view room;
    uint64_t seq = 0;
    std::string_view epoch;
    std::string_view event;
    std::string_view data = "null";  // JSON text, spliced in as it is: the caller vouches for it
    int64_t ts_ms = 0;
    std::string_view from;  // a client's message: its sender, a JSON object; empty: the server's
};

std::string encode_message(const MessageFields& fields);
std::string encode_subscribed(std::string_view room, uint64_t head_seq, std::string_view epoch);
std::string encode_unsubscribed(std::string_view room);
std::string encode_reset(std::string_view room, std::string_view epoch);
// The answer to `ping`: a heartbeat the page sees (WebSocket pings are the browser's alone).
std::string encode_pong();
// With `room` (and, for a publish, the `id` it was sent with) when the refusal concerns one room:
// the connection and its other rooms stay.
std::string encode_ws_error(const Error& error, std::string_view room = {},
                            std::string_view id = {});
// Presence (room_presence.h): `member` is a member's JSON object, spliced in as it is.
std::string encode_presence_change(std::string_view type, std::string_view room,
                                   std::string_view member);
std::string encode_presence(std::string_view room, const std::vector<std::string_view>& members,
                            std::size_t count);
std::string encode_presence_count(std::string_view room, std::size_t count);
// The ack of a client's publish.
std::string encode_published(std::string_view room, std::string_view id, const PublishAck& ack);

struct ClientCommand {
    enum class Op { subscribe, unsubscribe, publish, presence, ping } op = Op::subscribe;
    std::string room;
    std::optional<uint64_t> since;
    std::string epoch;
    std::string token;
    ControlRequest publish;  // Op::publish: room, event, id, data
};

Result<ClientCommand> decode_client_command(std::string_view text);

// Where a WebSocket request path leads: one room (/ws/rooms/ROOM) or the command endpoint (/ws).
struct WsTarget {
    enum class Kind { room, commands } kind = Kind::commands;
    std::string room;
};
Result<WsTarget> parse_ws_path(std::string_view path);

// The query of /ws/rooms/ROOM: since=SEQ&epoch=E&token=T (other keys are ignored).
struct WsQuery {
    std::optional<uint64_t> since;
    std::string epoch;
    std::string token;
};
// A close frame's payload as RFC 6455 (7.4) allows it from a peer: empty, or a status code a
// peer may send (1000-1003, 1007-1014, 3000-4999) and a UTF-8 reason. Anything else fails the
// connection instead of being echoed.
bool is_valid_close_payload(std::string_view payload);

// A URL's query: since, epoch, token (each at most a few hundred bytes) and whatever a client
// adds; a longer one is refused (bad_request) rather than read.
inline constexpr std::size_t kMaxWsQueryBytes = 4096;
Result<WsQuery> parse_ws_query(std::string_view query);

}  // namespace rp::sidecar

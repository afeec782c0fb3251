#pragma once
// Server-sent events (docs/sse.md): the same rooms and frames as /ws, for networks that break
// WebSockets. GET /sse/rooms/ROOM (or /sse?rooms=A,B) through nginx; every frame the session is
// sent becomes one event whose data is the frame's JSON, and `message` and `subscribed` frames
// carry an `id` that says where the stream stands, so that the browser's automatic reconnect
// (Last-Event-ID) resumes exactly as a WebSocket resume does. Pure text; ws_engine.cpp does I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "room_registry.h"
#include "roompush/error.h"

namespace rp::sidecar {

inline constexpr std::size_t kMaxLastEventIdBytes = 4096;
// A heartbeat event keeps a quiet stream alive through nginx's proxy_read_timeout (60 s).
inline constexpr int64_t kSseHeartbeatMs = 15000;

// What a GET on /sse asks for: its rooms, where each resumes, and the token.
struct SseRequest {
    std::vector<std::string> rooms;
    std::map<std::string, JoinRequest> resume;  // rooms with a known position
    std::string token;
    bool multi = false;  // /sse?rooms=…: ids name every room
};

// `path` without the query, `query` without '?', `last_event_id` the header ("" when none). A
// Last-Event-ID wins over since/epoch in the query (it is the newer of the two).
Result<SseRequest> parse_sse_request(std::string_view path, std::string_view query,
                                     std::string_view last_event_id, std::size_t max_rooms);
bool is_sse_path(std::string_view path);

// Where one stream stands per room, and the events it writes.
class SseStream {
public:
    explicit SseStream(bool multi) : multi_(multi) {}

    // A room resumed from a position: its `subscribed` (which names the head, with the replay
    // still to come) does not move the stream's id; the replayed messages do.
    void start_at(const std::string& room, const JoinRequest& resume);
    // The event for one frame: "id: …\n" for a message (or a fresh room's subscribed) frame, then
    // "data: …" lines (a newline inside the JSON starts another data line, which EventSource
    // joins back).
    std::string event(std::string_view frame_json);
    // An event, not a comment: the page sees it (EventSource hides comments), so a stream that
    // went quiet is noticed; it also keeps proxies from timing the stream out.
    static std::string_view heartbeat() { return "data: {\"type\":\"heartbeat\"}\n\n"; }

private:
    struct Position {
        std::string epoch;
        uint64_t seq = 0;
    };
    std::string id() const;

    bool multi_;
    std::map<std::string, Position> positions_;
};

}  // namespace rp::sidecar

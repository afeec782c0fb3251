// WsEngine's event streams (docs/sse.md): GET /sse… on the sidecar's socket becomes a session
// like a WebSocket's, whose frames are written as server-sent events instead of frames. The
// rooms, resume rules, tokens, limits and slow-consumer bound are the WebSocket's own.

#include "roompush/log.h"
#include "roompush/wall_clock.h"
#include "ws_engine.h"

namespace rp::sidecar {
namespace {

// Events joined into one write, as a member's frames are (WriteScheduler::kCoalesceBytes).
constexpr std::size_t kStreamWriteBytes = 16 * 1024;

int status_of(const Error& error) { return error.code.starts_with("token_") ? 403 : 400; }

}  // namespace

Reply WsEngine::sse_open(Wire* wire, WsConnection* connection, const std::string& path) {
    auto request = parse_sse_request(path, port_.header(wire, RequestHeader::query),
                                     port_.header(wire, RequestHeader::last_event_id),
                                     config_.max_rooms_per_connection);
    if (!request || stopping_) {
        Error error =
            request ? make_error("unavailable", "the sidecar is shutting down") : request.error();
        port_.answer_now(wire, json_error_answer(request ? 503 : 400, error));
        return Reply::close;
    }
    std::string peer = port_.header(wire, RequestHeader::forwarded_for);
    SessionId id = registry_.add_session(peer.empty() ? "local" : peer, now_ms());
    // Every room's token is checked before the 200: a refusal is an HTTP answer, as EventSource
    // reports it (and stops retrying), not an event on a stream that has begun.
    for (const std::string& room : request->rooms) {
        if (auto rights = handler_.authorize(id, room, request->token); !rights) {
            registry_.remove_session(id);
            port_.answer_now(wire, json_error_answer(status_of(rights.error()), rights.error()));
            return Reply::close;
        }
    }
    if (!port_.send_stream_headers(wire)) {
        registry_.remove_session(id);
        return Reply::close;
    }
    connection->id = id;
    connection->sse = true;
    metrics_.connections_opened++;
    metrics_.sse_opened++;
    streams_.emplace(id, EventStream{wire, SseStream(request->multi), now_ms()});
    scheduler_.attach_sink(id, [this, wire] { port_.request_writeable(wire); });
    log_debug("sse_open").kv("session", id).kv("peer", peer).kv("rooms", request->rooms.size());
    SseStream& stream = streams_.at(id).stream;
    for (const std::string& room : request->rooms) {
        auto resume = request->resume.find(room);
        JoinRequest join = resume == request->resume.end() ? JoinRequest{} : resume->second;
        stream.start_at(room, join);
        handler_.join(id, room, join, request->token);
    }
    port_.request_writeable(wire);
    return Reply::go_on;
}

// What is queued goes out as events, up to kStreamWriteBytes per write; a close the session
// owes (a slow consumer, a kick, the shutdown) ends the stream once its `error` is written.
Reply WsEngine::sse_writeable(Wire* wire, WsConnection* connection) {
    auto found = streams_.find(connection->id);
    Session* session = registry_.find(connection->id);
    if (found == streams_.end() || session == nullptr) return Reply::close;
    if (session->due_close()) return Reply::close;
    EventStream& stream = found->second;
    std::string out;
    while (out.size() < kStreamWriteBytes) {
        FramePtr frame = session->pop();
        if (!frame) break;
        out += stream.stream.event(frame->text());
    }
    if (out.empty() && stream.heartbeat_due) out = SseStream::heartbeat();
    if (!out.empty()) {
        if (!port_.send_stream_bytes(wire, out)) return Reply::close;
        stream.last_write_ms = now_ms();
        stream.heartbeat_due = false;
    }
    if (session->has_pending() || session->closing()) port_.request_writeable(wire);
    return Reply::go_on;
}

void WsEngine::sse_closed(WsConnection* connection) {
    SessionId id = connection->id;
    connection->sse = false;
    connection->id = 0;
    if (id == 0) return;
    scheduler_.detach_sink(id);
    streams_.erase(id);
    handler_.closed(id);
}

void WsEngine::sse_heartbeat() {
    int64_t now = now_ms();
    for (auto& [id, stream] : streams_) {
        if (now - stream.last_write_ms < kSseHeartbeatMs) continue;
        stream.heartbeat_due = true;
        port_.request_writeable(stream.wire);
    }
}

}  // namespace rp::sidecar

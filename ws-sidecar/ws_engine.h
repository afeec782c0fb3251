#pragma once
// The WebSocket server in plain C++: what each libwebsockets event means for the sidecar.
// ws_server.cpp owns libwebsockets and libev and turns every callback into one call here; the
// engine answers through WsPort (implemented there with lws calls, faked in tests) and keeps
// the policies apart: WriteScheduler (who is written when), FrameAssembler (client frames up to
// --max-frame), http_answers (/metrics, JSON errors, the Origin check), TaskQueue (work from
// other threads), and WsHandler (what a client's commands do to the rooms).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "frame_assembler.h"
#include "http_answers.h"
#include "room_registry.h"
#include "sidecar_config.h"
#include "sidecar_metrics.h"
#include "sse_stream.h"
#include "task_queue.h"
#include "write_scheduler.h"
#include "ws_handler.h"

namespace rp::sidecar {

// What libwebsockets keeps per connection (it allocates and zeroes it: plain data only). Not to
// be confused with the registry's Session, which it names by `id`.
struct WsConnection {
    SessionId id;              // 0 until the upgrade (or an SSE stream) and after the close
    FrameAssembler* incoming;  // the client frame being assembled from fragments
    std::string* http_body;    // a plain HTTP answer (/metrics) waiting to be written
    int64_t last_rx_ms;        // last frame or pong from the peer
    bool peer_closed;          // the peer sent a close frame
    bool close_begun;          // we answered `close`: lws is in the close handshake
    bool sse;                  // plain HTTP carrying a server-sent event stream (sse_stream.h)
    bool deflate;              // negotiated permessage-deflate (message_deflater.h)
};

enum class RequestHeader { path, query, origin, forwarded_for, last_event_id, extensions };

// What the engine asks of libwebsockets, beyond writing frames.
class WsPort : public WritePort {
public:
    // "" when absent. The query is the whole of it, however long, without the '?'.
    virtual std::string header(Wire* wire, RequestHeader which) = 0;
    virtual WsConnection* connection(Wire* wire) = 0;
    // Payload bytes the frame being received announced that have not arrived yet.
    virtual std::size_t announced(Wire* wire) = 0;
    // HTTP: an error's headers and body at once; or the headers now and the body later.
    virtual void answer_now(Wire* wire, const HttpAnswer& answer) = 0;
    virtual bool send_headers(Wire* wire, int status, const char* content_type,
                              std::size_t length) = 0;
    virtual bool send_body(Wire* wire, const std::string& body) = 0;
    // An event stream: its headers (no length, no caching, no proxy buffering; the connection is
    // never timed out by libwebsockets), then its bytes as they come.
    virtual bool send_stream_headers(Wire* wire) = 0;
    virtual bool send_stream_bytes(Wire* wire, const std::string& bytes) = 0;
    // The request is answered; true: the connection is to be closed (no keep-alive).
    virtual bool complete_transaction(Wire* wire) = 0;
    // The upgrade took permessage-deflate (only offered with --ws-deflate).
    virtual bool negotiated_deflate(Wire* /*wire*/) { return false; }
};

// What a callback returns to libwebsockets. It closes on either close; these are the values
// each callback has always returned.
enum class Reply : int { go_on = 0, close = -1, refuse = 1 };

class WsEngine {
public:
    using Clock = std::chrono::steady_clock;

    // `headroom`: LWS_PRE, what a write needs in front of its bytes.
    WsEngine(const SidecarConfig& config, RoomRegistry& registry, SidecarMetrics& metrics,
             WsPort& port, std::size_t headroom);

    WriteScheduler& scheduler() { return scheduler_; }
    void set_publisher(ClientPublisher* publisher) { handler_.set_publisher(publisher); }
    TaskQueue& tasks() { return tasks_; }

    // Plain HTTP on the socket, and the check before an upgrade.
    Reply confirm_upgrade(Wire* wire);
    Reply http_request(Wire* wire, WsConnection* connection);
    Reply http_writeable(Wire* wire, WsConnection* connection);
    void http_closed(WsConnection* connection);

    // During the upgrade: may the connection have permessage-deflate, as the client offered it?
    Reply confirm_deflate(Wire* wire);
    // A WebSocket connection's life.
    void opened(Wire* wire, WsConnection* connection);
    Reply received(Wire* wire, WsConnection* connection, const Fragment& fragment);
    Reply writeable(Wire* wire, WsConnection* connection);
    Reply peer_closing(WsConnection* connection, std::string_view payload);
    void pong(WsConnection* connection);
    void closed(WsConnection* connection);

    // The loop was woken (lws_cancel_service): runs the posted tasks, writes what they woke,
    // and begins the shutdown once it was asked for.
    void woken();
    // Any thread; the caller then wakes the loop.
    void request_stop() { stop_requested_ = true; }
    // Once a second: closes (1009) every connection whose frame in progress announced more than
    // --max-frame (a client that sends a header and then nothing).
    void refuse_oversized_frames();
    // Once a second: rooms too large to name who comes and goes send their count.
    void flush_presence_counts();
    RoomPresence& room_presence() { return handler_.room_presence(); }
    // Once a second: a heartbeat event on every event stream quiet for kSseHeartbeatMs.
    void sse_heartbeat();
    // After a turn of the loop: the shutdown is over (every client gone, or the grace ran out).
    bool shut_down(Clock::time_point now) const;

private:
    void begin_shutdown();
    Reply sse_open(Wire* wire, WsConnection* connection, const std::string& path);
    Reply sse_writeable(Wire* wire, WsConnection* connection);
    void sse_closed(WsConnection* connection);

    struct EventStream {
        Wire* wire;
        SseStream stream;
        int64_t last_write_ms;
        bool heartbeat_due = false;
    };

    const SidecarConfig& config_;
    RoomRegistry& registry_;
    SidecarMetrics& metrics_;
    WsPort& port_;
    WsHandler handler_;
    WriteScheduler scheduler_;
    TaskQueue tasks_;
    std::unordered_map<SessionId, EventStream> streams_;  // the open SSE streams
    std::atomic<bool> stop_requested_{false};
    bool stopping_ = false;
    Clock::time_point stop_deadline_;
};

}  // namespace rp::sidecar

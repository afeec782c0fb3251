#include "ws_engine.h"

#include "roompush/log.h"
#include "roompush/wall_clock.h"
#include "ws_codec.h"

namespace rp::sidecar {
namespace {

int64_t wall_ms() { return now_ms(); }

}  // namespace

WsEngine::WsEngine(const SidecarConfig& config, RoomRegistry& registry, SidecarMetrics& metrics,
                   WsPort& port, std::size_t headroom)
    : config_(config),
      registry_(registry),
      metrics_(metrics),
      port_(port),
      handler_(registry, config, metrics,
               [this](const std::vector<SessionId>& ids) { scheduler_.wake(ids); }),
      scheduler_(registry, port, headroom) {
    if (config.ws_deflate) scheduler_.enable_deflate(metrics.ws_deflated);
}

/* ---------------------------------------------------------------------------------------------
 * Plain HTTP and the upgrade
 * ------------------------------------------------------------------------------------------- */

Reply WsEngine::confirm_upgrade(Wire* wire) {
    if (config_.allowed_origins.empty()) return Reply::go_on;  // no header to read
    std::string origin = port_.header(wire, RequestHeader::origin);
    auto refusal = refuse_origin(config_.allowed_origins, origin);
    if (!refusal) return Reply::go_on;
    metrics_.ws_refused++;
    log_warn("origin_refused")
        .kv("origin", origin)
        .kv("peer", port_.header(wire, RequestHeader::forwarded_for));
    port_.answer_now(wire, *refusal);
    return Reply::refuse;
}

// Without an answer the request would hang: every path gets one at once.
Reply WsEngine::http_request(Wire* wire, WsConnection* connection) {
    std::string path = port_.header(wire, RequestHeader::path);
    if (is_sse_path(path)) return sse_open(wire, connection, path);
    HttpAnswer answer =
        answer_plain_http(path, [this] { return render_prometheus(metrics_, registry_.gauges()); });
    if (answer.then_close) {
        port_.answer_now(wire, answer);
        return Reply::close;
    }
    connection->http_body = new std::string(std::move(answer.body));
    if (!port_.send_headers(wire, answer.status, answer.content_type,
                            connection->http_body->size())) {
        return Reply::refuse;
    }
    port_.request_writeable(wire);
    return Reply::go_on;
}

Reply WsEngine::http_writeable(Wire* wire, WsConnection* connection) {
    if (connection != nullptr && connection->sse) return sse_writeable(wire, connection);
    if (connection == nullptr || connection->http_body == nullptr) return Reply::close;
    bool written = port_.send_body(wire, *connection->http_body);
    delete connection->http_body;
    connection->http_body = nullptr;
    if (!written) return Reply::close;
    return port_.complete_transaction(wire) ? Reply::close : Reply::go_on;
}

void WsEngine::http_closed(WsConnection* connection) {
    if (connection == nullptr) return;
    if (connection->sse) sse_closed(connection);
    delete connection->http_body;
    connection->http_body = nullptr;
}

/* ---------------------------------------------------------------------------------------------
 * A WebSocket connection's life
 * ------------------------------------------------------------------------------------------- */

// An offer the deflater could not honour is declined: the connection goes on without the
// extension, as with a client that offered none.
Reply WsEngine::confirm_deflate(Wire* wire) {
    bool taken = config_.ws_deflate &&
                 deflate_offer_acceptable(port_.header(wire, RequestHeader::extensions));
    return taken ? Reply::go_on : Reply::refuse;
}

void WsEngine::opened(Wire* wire, WsConnection* connection) {
    std::string path = port_.header(wire, RequestHeader::path);
    std::string peer = port_.header(wire, RequestHeader::forwarded_for);
    if (peer.empty()) peer = "local";
    connection->incoming = new FrameAssembler();
    connection->last_rx_ms = wall_ms();
    connection->deflate = config_.ws_deflate && port_.negotiated_deflate(wire);
    if (connection->deflate) metrics_.ws_deflate_opened++;
    connection->id =
        handler_.open(path, port_.header(wire, RequestHeader::query), peer, connection->last_rx_ms);
    scheduler_.connected(connection->id, wire);
    if (stopping_) {
        if (Session* session = registry_.find(connection->id)) {
            session->request_close(CloseCode::going_away, "server shutting down", false);
        }
    }
    port_.request_writeable(wire);
}

Reply WsEngine::received(Wire* wire, WsConnection* connection, const Fragment& fragment) {
    connection->last_rx_ms = wall_ms();
    SessionId id = connection->id;
    Session* session = registry_.find(id);
    if (session == nullptr || session->closing()) return Reply::go_on;  // after a refusal
    switch (connection->incoming->add(fragment, config_.max_client_frame)) {
        case FrameAssembler::Outcome::partial:
            break;
        case FrameAssembler::Outcome::message:
            handler_.on_text(id, connection->incoming->take());
            break;
        case FrameAssembler::Outcome::binary:
            handler_.on_binary(id);
            break;
        case FrameAssembler::Outcome::too_big:
            handler_.on_too_big(id);
            break;
    }
    port_.request_writeable(wire);
    return Reply::go_on;
}

// Once this callback has answered `close`, libwebsockets is in the close handshake: it sends
// our close frame, then waits (up to 5 s) for the peer's, reading and dropping what the peer
// still sends meanwhile, such as the rest of a frame refused as too big. lws 4.1 leaves POLLOUT
// on after the close frame, so this callback comes once more during that wait. Answering
// `close` again there (the session's close is still due) made lws drop the handshake and hang
// up at once, with the rest of the client's frame unread on the socket; nginx's next send() of
// it to us then failed (EPIPE), and nginx ended the request without forwarding the error and
// close frames still waiting on its end of the socket: the client's connection ended with
// nothing. Now lws closes the socket when the peer's close frame arrives, all of its bytes read.
Reply WsEngine::writeable(Wire* wire, WsConnection* connection) {
    if (connection->close_begun) return Reply::go_on;
    if (scheduler_.on_writeable(wire, connection->id)) return Reply::go_on;
    connection->close_begun = true;
    return Reply::close;
}

// lws would echo any payload; a close RFC 6455 does not allow fails the connection.
Reply WsEngine::peer_closing(WsConnection* connection, std::string_view payload) {
    if (connection != nullptr) connection->peer_closed = true;
    if (is_valid_close_payload(payload)) return Reply::go_on;
    log_info("ws_bad_close")
        .kv("session", connection != nullptr ? connection->id : 0)
        .kv("bytes", static_cast<uint64_t>(payload.size()));
    return Reply::close;
}

void WsEngine::pong(WsConnection* connection) {
    if (connection != nullptr) connection->last_rx_ms = wall_ms();
}

// A close that neither side asked for, after a silence longer than the ping interval, is the
// keepalive giving up on a peer that stopped answering.
void WsEngine::closed(WsConnection* connection) {
    if (connection == nullptr || connection->id == 0) return;
    SessionId id = connection->id;
    Session* session = registry_.find(id);
    bool by_us = session != nullptr && session->closing();
    int64_t silent_ms = wall_ms() - connection->last_rx_ms;
    if (!by_us && !connection->peer_closed &&
        silent_ms >= int64_t{config_.ping_interval_s} * 1000) {
        metrics_.ping_timeouts++;
        log_info("ping_timeout").kv("session", id).kv("silent_ms", silent_ms);
    }
    scheduler_.disconnected(id);
    handler_.closed(id);
    delete connection->incoming;
    connection->incoming = nullptr;
    connection->id = 0;
}

/* ---------------------------------------------------------------------------------------------
 * The loop: posted work, oversized frames, shutdown
 * ------------------------------------------------------------------------------------------- */

void WsEngine::woken() {
    scheduler_.begin_batch();
    tasks_.run_posted();
    scheduler_.end_batch();
    if (stop_requested_ && !stopping_) begin_shutdown();
}

void WsEngine::flush_presence_counts() { handler_.flush_presence_counts(); }

void WsEngine::refuse_oversized_frames() {
    for (const auto& [id, wire] : scheduler_.connections()) {
        WsConnection* connection = port_.connection(wire);
        Session* session = registry_.find(id);
        if (connection == nullptr || connection->incoming == nullptr || session == nullptr ||
            session->closing()) {
            continue;
        }
        if (connection->incoming->refuse_if_over(port_.announced(wire), config_.max_client_frame)) {
            handler_.on_too_big(id);
            port_.request_writeable(wire);
        }
    }
}

// Every client is closed with 1001; run() ends once they are gone or the grace has run out.
void WsEngine::begin_shutdown() {
    stopping_ = true;
    stop_deadline_ = Clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms);
    log_info("shutting_down").kv("sessions", registry_.session_count());
    handler_.begin_shutdown();
    for (const auto& [id, wire] : scheduler_.connections()) port_.request_writeable(wire);
    for (const auto& [id, stream] : streams_) port_.request_writeable(stream.wire);
}

bool WsEngine::shut_down(Clock::time_point now) const {
    return stopping_ && (registry_.session_count() == 0 || now > stop_deadline_);
}

}  // namespace rp::sidecar

#include "ws_server.h"

#include <ev.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "roompush/json.h"
#include "roompush/log.h"
#include "roompush/unix_socket.h"
#include "ws_codec.h"
#include "ws_handler.h"

namespace rp::sidecar {

static_assert(LWS_PRE <= kFrameHeadroom, "frame headroom must fit libwebsockets' header");

namespace {

constexpr std::size_t kCoalesceBytes = 32 * 1024;
// libwebsockets allocates a receive buffer of the protocol's rx_buffer_size for every connection;
// a client's commands are small, and a longer frame still arrives, in pieces that on_receive
// joins (up to --max-frame). 4 KB per idle connection was the largest item of its memory.
constexpr std::size_t kRxBufferBytes = 512;
constexpr std::size_t kMaxFrameHeader = 10;
constexpr unsigned short kMaxHandshakeBytes = 32 * 1024;
// A publish to at most this many members is written at once (after its batch); a larger
// audience too, unless another large one came shortly before: see WsServer::Impl::wake.
constexpr std::size_t kWriteAtOnceMembers = 32;
constexpr auto kLargeAudienceBusy = std::chrono::milliseconds(20);

// RFC 6455 header of an unmasked, final text frame of `length` bytes; returns its size.
std::size_t encode_frame_header(unsigned char* out, std::size_t length) {
    out[0] = 0x81;
    if (length < 126) {
        out[1] = static_cast<unsigned char>(length);
        return 2;
    }
    if (length <= 0xffff) {
        out[1] = 126;
        out[2] = static_cast<unsigned char>(length >> 8);
        out[3] = static_cast<unsigned char>(length);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(uint64_t{length} >> (56 - 8 * i));
    return 10;
}

// What libwebsockets keeps per connection (zeroed by lws, so plain data only).
struct PerSession {
    SessionId id;
    std::string* rx;         // the client frame being assembled from fragments
    std::string* http_body;  // a plain HTTP answer (/metrics) waiting to be written
    int64_t last_rx_ms;      // last frame or pong from the peer
    bool peer_closed;        // the peer sent a close frame
};

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string header(lws* wsi, lws_token_indexes token) {
    int length = lws_hdr_total_length(wsi, token);
    if (length <= 0) return {};
    std::string value(static_cast<size_t>(length) + 1, '\0');
    int copied = lws_hdr_copy(wsi, value.data(), length + 1, token);
    value.resize(copied > 0 ? static_cast<size_t>(copied) : 0);
    return value;
}

// An HTTP answer with a JSON error body, as the app's errors are ({"error":{"code","message"}}),
// written at once (what lws_return_http_status does with an HTML page). The caller then closes.
void reply_json_error(lws* wsi, http_status status, const Error& error,
                      const char* extra_header = nullptr, const char* extra_value = nullptr) {
    std::string body = to_json(error_object(error).get()) + "\n";
    unsigned char buffer[LWS_PRE + 1024];
    unsigned char* start = buffer + LWS_PRE;
    unsigned char* position = start;
    unsigned char* end = buffer + sizeof buffer - 1;
    if (lws_add_http_common_headers(wsi, status, "application/json", body.size(), &position, end)) return;
    if (extra_header != nullptr &&
        lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(extra_header),
                                    reinterpret_cast<const unsigned char*>(extra_value),
                                    static_cast<int>(std::strlen(extra_value)), &position, end)) {
        return;
    }
    if (lws_finalize_http_header(wsi, &position, end)) return;
    if (lws_write(wsi, start, static_cast<size_t>(position - start), LWS_WRITE_HTTP_HEADERS) < 0) return;
    std::vector<unsigned char> payload(LWS_PRE + body.size());
    std::copy(body.begin(), body.end(), payload.begin() + LWS_PRE);
    lws_write(wsi, payload.data() + LWS_PRE, body.size(), LWS_WRITE_HTTP_FINAL);
}

void log_bridge(int level, const char* line) {
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    LogLevel mapped = level & LLL_ERR    ? LogLevel::error
                      : level & LLL_WARN ? LogLevel::warn
                                         : LogLevel::debug;
    LogLine(mapped, "lws").kv("message", text);
}

}  // namespace

struct WsServer::Impl {
    Impl(const SidecarConfig& c, RoomRegistry& r, SidecarMetrics& m)
        : config(c), registry(r), metrics(m), handler(r, c, m) {}

    const SidecarConfig& config;
    RoomRegistry& registry;
    SidecarMetrics& metrics;
    WsHandler handler;
    std::unordered_map<SessionId, std::function<void()>> sinks;
    lws_context* context = nullptr;
    struct ev_loop* epoll_loop = nullptr;  // ours, lent to libwebsockets; null: lws' own poll()
    lws_retry_bo_t retry{};
    lws_protocols protocols[2]{};
    std::unordered_map<SessionId, lws*> connections;
    std::vector<unsigned char> scratch;  // where the frames of a member that fell behind are joined
    bool draining = false;               // carrying out posted tasks (control socket, broker)
    std::vector<SessionId> woken;        // members those tasks gave frames to, written after them
    // epoll loop: members of busy large audiences, written at the end of the loop's next turn
    // (see wake); the watchers that bring that turn at once and write them at its end.
    std::vector<SessionId> deferred;
    ev_check turn_end{};
    ev_idle no_waiting{};
    std::chrono::steady_clock::time_point last_large_audience;

    std::mutex tasks_mutex;
    std::vector<std::function<void()>> tasks;
    std::atomic<bool> stop_requested{false};
    std::atomic<bool> finished{false};
    bool stopping = false;
    std::chrono::steady_clock::time_point stop_deadline;

    int on_event(lws* wsi, lws_callback_reasons reason, PerSession* session, void* in, size_t len);
    void on_established(lws* wsi, PerSession* session);
    int on_receive(lws* wsi, PerSession* session, const char* data, size_t len);
    int on_writeable(lws* wsi, PerSession* session);
    int write_queued(lws* wsi, Session& state);
    int on_http(lws* wsi, PerSession* session);
    int confirm_upgrade(lws* wsi);
    int on_http_writeable(lws* wsi, PerSession* session);
    void on_closed(PerSession* session);
    void drain_tasks();
    void flush(std::vector<SessionId>& ids);
    void defer(SessionId id);
    void flush_deferred();
    void start_turn_watchers();
    void stop_turn_watchers();
    void write_now(lws* wsi, Session& state);
    void begin_shutdown();
    Status create_context(const lws_context_creation_info& info);
    void wake(const std::vector<SessionId>& ids);
    void wake(SessionId id, bool at_once);
};

namespace {

int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) noexcept {
    auto* impl = static_cast<WsServer::Impl*>(lws_context_user(lws_get_context(wsi)));
    if (impl == nullptr) return 0;
    try {
        return impl->on_event(wsi, reason, static_cast<PerSession*>(user), in, len);
    } catch (const std::exception& error) {
        log_error("ws_callback_failed").kv("error", error.what());
        return -1;
    }
}

// libev calls these on the loop thread; like lws' callback, they never throw.
void on_turn_end(struct ev_loop*, ev_check* watcher, int) noexcept {
    try {
        static_cast<WsServer::Impl*>(watcher->data)->flush_deferred();
    } catch (const std::exception& error) {
        log_error("deferred_writes_failed").kv("error", error.what());
    }
}

void on_no_waiting(struct ev_loop*, ev_idle*, int) noexcept {}

}  // namespace

void WsServer::Impl::start_turn_watchers() {
    if (ev_is_active(&turn_end)) return;
    ev_check_init(&turn_end, on_turn_end);
    turn_end.data = this;
    ev_idle_init(&no_waiting, on_no_waiting);
    ev_check_start(epoll_loop, &turn_end);
    ev_idle_start(epoll_loop, &no_waiting);
}

void WsServer::Impl::stop_turn_watchers() {
    if (epoll_loop == nullptr) return;
    ev_check_stop(epoll_loop, &turn_end);
    ev_idle_stop(epoll_loop, &no_waiting);
}

int WsServer::Impl::on_event(lws* wsi, lws_callback_reasons reason, PerSession* session, void* in,
                             size_t len) {
    switch (reason) {
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return confirm_upgrade(wsi);
        case LWS_CALLBACK_HTTP:
            return on_http(wsi, session);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return on_http_writeable(wsi, session);
        case LWS_CALLBACK_CLOSED_HTTP:
            if (session != nullptr) {
                delete session->http_body;
                session->http_body = nullptr;
            }
            return 0;
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            if (session != nullptr) session->peer_closed = true;
            // lws would echo any payload; a close RFC 6455 does not allow fails the connection.
            if (!is_valid_close_payload(std::string_view(static_cast<const char*>(in), len))) {
                log_info("ws_bad_close").kv("session", session != nullptr ? session->id : 0)
                    .kv("bytes", static_cast<uint64_t>(len));
                return -1;
            }
            return 0;
        case LWS_CALLBACK_RECEIVE_PONG:
            if (session != nullptr) session->last_rx_ms = wall_ms();
            return 0;
        case LWS_CALLBACK_ESTABLISHED:
            on_established(wsi, session);
            return 0;
        case LWS_CALLBACK_RECEIVE:
            return on_receive(wsi, session, static_cast<const char*>(in), len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return on_writeable(wsi, session);
        case LWS_CALLBACK_CLOSED:
            on_closed(session);
            return 0;
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            drain_tasks();
            if (stop_requested && !stopping) begin_shutdown();
            return 0;
        default:
            return 0;
    }
}

// The whole query, however long (parse_ws_query refuses one that is too long: it must see it).
static std::string query_string(lws* wsi) {
    std::string query;
    for (int index = 0;; ++index) {
        int length = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, index);
        std::string fragment(static_cast<size_t>(std::max(length, 0)) + 1, '\0');
        int copied = lws_hdr_copy_fragment(wsi, fragment.data(), static_cast<int>(fragment.size()),
                                           WSI_TOKEN_HTTP_URI_ARGS, index);
        if (copied < 0) break;
        if (!query.empty()) query.push_back('&');
        query.append(fragment.data(), static_cast<size_t>(copied));
    }
    return query;
}

void WsServer::Impl::on_established(lws* wsi, PerSession* session) {
    std::string path = header(wsi, WSI_TOKEN_GET_URI);
    std::string peer = header(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (peer.empty()) peer = "local";
    session->rx = new std::string();
    session->last_rx_ms = wall_ms();
    session->id = handler.open(path, query_string(wsi), peer, session->last_rx_ms);
    connections[session->id] = wsi;
    if (stopping) {
        if (Session* state = registry.find(session->id)) {
            state->request_close(CloseCode::going_away, "server shutting down", false);
        }
    }
    lws_callback_on_writable(wsi);
}

int WsServer::Impl::on_receive(lws* wsi, PerSession* session, const char* data, size_t len) {
    session->last_rx_ms = wall_ms();
    Session* state = registry.find(session->id);
    if (state == nullptr || state->closing()) return 0;  // ignore what follows a refusal
    if (lws_frame_is_binary(wsi)) {
        handler.on_binary(session->id);
    } else if (session->rx->size() + len + lws_remaining_packet_payload(wsi) > config.max_client_frame) {
        // Refused from the length the frame announces, not once that much has arrived.
        session->rx->clear();
        handler.on_too_big(session->id);
    } else {
        session->rx->append(data, len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            std::string text;
            text.swap(*session->rx);
            handler.on_text(session->id, text);
        }
    }
    lws_callback_on_writable(wsi);
    return 0;
}

int WsServer::Impl::on_writeable(lws* wsi, PerSession* session) {
    Session* state = registry.find(session->id);
    if (state == nullptr) return -1;
    if (auto close = state->due_close()) {
        std::string reason = close->reason.substr(0, 120);
        lws_close_reason(wsi, static_cast<lws_close_status>(close->code),
                         reinterpret_cast<unsigned char*>(reason.data()), reason.size());
        return -1;
    }
    if (state->has_pending() && write_queued(wsi, *state) < 0) return -1;
    if (state->has_pending() || state->closing()) lws_callback_on_writable(wsi);
    return 0;
}

// One frame goes out from its shared buffer as it is (lws writes the header into the headroom).
// A member that has fallen behind gets its queued frames, up to kCoalesceBytes, in one write():
// the headers are made here and the payloads copied once into the loop's scratch buffer. A copy
// of a few hundred bytes costs far less than a poll round trip and a syscall per frame, and
// nginx then reads and forwards them in one go as well. (No extension such as
// permessage-deflate is offered, so the frames on the wire are exactly these.)
int WsServer::Impl::write_queued(lws* wsi, Session& state) {
    const Frame* next = state.peek();
    if (state.queued_frames() == 1 || next->size() + kMaxFrameHeader > kCoalesceBytes) {
        FramePtr frame = state.pop();
        return lws_write(wsi, frame->payload(), frame->size(), LWS_WRITE_TEXT) < 0 ? -1 : 0;
    }
    if (scratch.empty()) scratch.resize(LWS_PRE + kCoalesceBytes);
    unsigned char* out = scratch.data() + LWS_PRE;
    std::size_t used = 0;
    for (; next != nullptr; next = state.peek()) {
        if (used + next->size() + kMaxFrameHeader > kCoalesceBytes) break;
        used += encode_frame_header(out + used, next->size());
        std::memcpy(out + used, next->text().data(), next->size());
        used += next->size();
        state.pop();
    }
    return lws_write(wsi, out, used, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

// A close that neither side asked for, after a silence longer than the ping interval, is the
// keepalive giving up on a peer that stopped answering.
void WsServer::Impl::on_closed(PerSession* session) {
    if (session == nullptr || session->id == 0) return;
    Session* state = registry.find(session->id);
    bool by_us = state != nullptr && state->closing();
    int64_t silent_ms = wall_ms() - session->last_rx_ms;
    if (!by_us && !session->peer_closed && silent_ms >= int64_t{config.ping_interval_s} * 1000) {
        metrics.ping_timeouts++;
        log_info("ping_timeout").kv("session", session->id).kv("silent_ms", silent_ms);
    }
    connections.erase(session->id);
    handler.closed(session->id);
    delete session->rx;
    session->rx = nullptr;
    session->id = 0;
}

// A browser page from another site must not open our rooms: with an allow-list, an upgrade
// whose Origin is not on it gets 403.
int WsServer::Impl::confirm_upgrade(lws* wsi) {
    if (config.allowed_origins.empty()) return 0;
    std::string origin = header(wsi, WSI_TOKEN_ORIGIN);
    for (const std::string& allowed : config.allowed_origins) {
        if (origin == allowed) return 0;
    }
    metrics.ws_refused++;
    log_warn("origin_refused").kv("origin", origin).kv("peer", header(wsi, WSI_TOKEN_X_FORWARDED_FOR));
    reply_json_error(wsi, HTTP_STATUS_FORBIDDEN,
                     make_error("origin_not_allowed",
                                origin.empty() ? "this server requires an Origin header from its allowed list"
                                               : "WebSockets from " + origin + " are not allowed here"));
    return 1;
}

// Plain HTTP on the WebSocket socket: /metrics for Prometheus (nginx allows it from loopback
// only). A WebSocket endpoint asked without an upgrade gets 426, anything else 404, at once and
// as JSON; without an answer the request would hang.
int WsServer::Impl::on_http(lws* wsi, PerSession* session) {
    std::string uri = header(wsi, WSI_TOKEN_GET_URI);
    if (uri == "/ws" || uri.rfind("/ws/", 0) == 0) {
        reply_json_error(wsi, static_cast<http_status>(426),  // Upgrade Required
                         make_error("upgrade_required", uri + " is a WebSocket endpoint: open it with "
                                                              "Upgrade: websocket (docs/websocket.md)"),
                         "Upgrade:", "websocket");
        return -1;
    }
    if (uri != "/metrics") {
        reply_json_error(wsi, HTTP_STATUS_NOT_FOUND, make_error("not_found", "nothing at " + uri));
        return -1;
    }
    session->http_body = new std::string(render_prometheus(metrics, registry.gauges()));
    unsigned char headers[LWS_PRE + 512];
    unsigned char* start = headers + LWS_PRE;
    unsigned char* position = start;
    unsigned char* end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4",
                                    session->http_body->size(), &position, end) ||
        lws_finalize_write_http_header(wsi, start, &position, end)) {
        return 1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

int WsServer::Impl::on_http_writeable(lws* wsi, PerSession* session) {
    if (session == nullptr || session->http_body == nullptr) return -1;
    std::vector<unsigned char> buffer(LWS_PRE + session->http_body->size());
    std::copy(session->http_body->begin(), session->http_body->end(), buffer.begin() + LWS_PRE);
    int written = lws_write(wsi, buffer.data() + LWS_PRE, session->http_body->size(), LWS_WRITE_HTTP_FINAL);
    delete session->http_body;
    session->http_body = nullptr;
    if (written < 0) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void WsServer::Impl::drain_tasks() {
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(tasks_mutex);
        batch.swap(tasks);
    }
    draining = true;
    for (auto& task : batch) {
        try {
            task();
        } catch (const std::exception& error) {  // one failed request must not drop the others
            log_error("loop_task_failed").kv("error", error.what());
        }
    }
    draining = false;
    flush(woken);
}

// An audience is written right after the batch of tasks that gave it frames (see flush),
// except a large one while large audiences come thick and fast: that waits one turn of the
// loop, so that the next publishes to the room join the same writes (and nginx then forwards
// several frames per read). Writing every publish at once to each member of a busy
// 1,000-member room made fanout through nginx ~50 % dearer per delivery; at a few publishes a
// second there is nothing to join, and writing at once is the quicker path. On lws' poll() loop
// the wait is the writeable pass; on epoll asking for POLLOUT costs two epoll_ctl() calls per
// member per write, so the loop's next turn is brought at once and the members written at its
// end instead (defer).
void WsServer::Impl::wake(const std::vector<SessionId>& ids) {
    bool at_once = draining;
    if (at_once && ids.size() > kWriteAtOnceMembers) {
        auto now = std::chrono::steady_clock::now();
        at_once = now - last_large_audience >= kLargeAudienceBusy;
        last_large_audience = now;
    }
    for (SessionId id : ids) wake(id, at_once);
}

void WsServer::Impl::wake(SessionId id, bool at_once) {
    auto found = connections.find(id);
    if (found != connections.end()) {
        if (at_once) {
            woken.push_back(id);
        } else if (epoll_loop != nullptr) {
            defer(id);
        } else {
            lws_callback_on_writable(found->second);
        }
        return;
    }
    auto sink = sinks.find(id);
    if (sink != sinks.end()) sink->second();
}

// What a batch of publishes queued goes out now, each member's frames joined into one write,
// instead of after another poll() over every connection and a writeable callback per member:
// with one message per room that round trip was most of the loop's work per delivery. The
// writeable callback stays the path for everything else: a close to send, a member whose
// socket is full (libwebsockets holds the unsent rest; we add nothing to it), frames beyond one
// coalesced write.
void WsServer::Impl::flush(std::vector<SessionId>& ids) {
    // A member gets one id per publish of the batch; one write takes all of its frames.
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (SessionId id : ids) {
        auto found = connections.find(id);
        if (found == connections.end()) continue;  // closed by an earlier task of the batch
        Session* state = registry.find(id);
        // A member whose queue overflowed has nothing pending but a 1013 to send.
        if (state != nullptr && (state->has_pending() || state->closing())) {
            write_now(found->second, *state);
        }
    }
    ids.clear();
}

// libev's check watchers run after the loop's wait, once what it found is handled; one started
// now runs at the end of the next turn. The idle watcher keeps that turn from waiting.
void WsServer::Impl::defer(SessionId id) {
    if (deferred.empty()) start_turn_watchers();
    deferred.push_back(id);
}

// Nothing flush() calls defers again (write_now falls back to POLLOUT), so `deferred` is
// written and cleared in place and keeps its capacity from turn to turn.
void WsServer::Impl::flush_deferred() {
    stop_turn_watchers();
    flush(deferred);
}

// Writes outside the writeable callback only when libwebsockets would let a write through there
// too: an open connection with nothing of its own left unsent. A failed write closes the
// connection asynchronously (there is no callback to return -1 from).
void WsServer::Impl::write_now(lws* wsi, Session& state) {
    auto* session = static_cast<PerSession*>(lws_wsi_user(wsi));
    bool open = !state.closing() && session != nullptr && !session->peer_closed;
    if (!open || lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi);
        return;
    }
    if (write_queued(wsi, state) < 0) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return;
    }
    if (state.has_pending()) lws_callback_on_writable(wsi);
}

void WsServer::Impl::begin_shutdown() {
    stopping = true;
    stop_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.shutdown_grace_ms);
    log_info("shutting_down").kv("sessions", registry.session_count());
    handler.begin_shutdown();
    for (auto& [id, wsi] : connections) lws_callback_on_writable(wsi);
}

// libwebsockets' own loop calls poll() over every connection on every turn: with 1,000
// connections and a batch of publishes per turn that was the largest item of the loop. With
// libev's epoll backend a turn costs what is ready, not what is open. The loop is ours, lent to
// lws ("foreign"), so that run() keeps its turn and lws installs no signal handler. NOENV: the
// backend is the one asked for, whatever LIBEV_FLAGS says. The context is made without its
// listener (EXPLICIT_VHOSTS), so that failing here means the event library, not the socket.
//
// A limit of lws 4.1.6's libev plugin: it services its timers (timeouts, ping validity) from a
// libev idle watcher and a timer it re-arms only there, so while the loop always has I/O ready
// a newly scheduled timeout may wait until the next one already armed. The loop's own turns
// (the housekeeper's post every second) keep that short when it is not saturated.
static lws_context* create_on_epoll(lws_context_creation_info info, struct ev_loop*& loop) {
    loop = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) |
                       static_cast<unsigned>(EVFLAG_NOSIGMASK) | static_cast<unsigned>(EVFLAG_NOENV));
    if (loop == nullptr) return nullptr;
    void* foreign_loops[1] = {loop};
    info.options |= LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = foreign_loops;
    lws_context* context = lws_create_context(&info);
    if (context == nullptr) {
        ev_loop_destroy(loop);
        loop = nullptr;
    }
    return context;
}

// The loop --event-loop asks for (auto falls back to lws' own when the plugin does not load),
// then the listener on it.
Status WsServer::Impl::create_context(const lws_context_creation_info& info) {
    if (config.event_loop != EventLoop::poll) {
        context = create_on_epoll(info, epoll_loop);
        if (context == nullptr && config.event_loop == EventLoop::epoll) {
            return make_error("event_loop_unavailable",
                              "libwebsockets could not run on libev's epoll loop (is the package "
                              "libwebsockets-evlib-ev installed?); --event-loop poll runs without it");
        }
        if (context == nullptr) {
            log_warn("event_loop_fallback").kv("event_loop", "poll")
                .kv("hint", "install libwebsockets-evlib-ev for the epoll loop");
        }
    }
    if (context == nullptr) {
        lws_context_creation_info own = info;
        own.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
        context = lws_create_context(&own);
        if (context == nullptr) return make_error("lws_failed", "libwebsockets could not start");
    }
    if (lws_create_vhost(context, &info) == nullptr) {
        return make_error("listen_failed", "libwebsockets could not listen on " + config.ws_socket);
    }
    return ok_status();
}

WsServer::WsServer(const SidecarConfig& config, RoomRegistry& registry, SidecarMetrics& metrics)
    : impl_(std::make_unique<Impl>(config, registry, metrics)) {}

WsServer::~WsServer() {
    // A borrowed loop outlives the context: destroying it stops the watchers lws keeps there.
    // Ours go first: they write through lws.
    impl_->stop_turn_watchers();
    if (impl_->context != nullptr) lws_context_destroy(impl_->context);
    if (impl_->epoll_loop != nullptr) ev_loop_destroy(impl_->epoll_loop);
}

Status WsServer::start() {
    const SidecarConfig& config = impl_->config;
    int lws_levels = LLL_ERR | LLL_WARN;
    if (config.lws_debug) lws_levels |= LLL_NOTICE | LLL_INFO;
    lws_set_log_level(lws_levels, log_bridge);
    if (auto claimed = claim_socket_path(config.ws_socket); !claimed) return claimed.error();

    // tx_packet_size: libwebsockets sends at most this much per send() (plus LWS_PRE + 4) and
    // copies the rest into a buffer sent one chunk per POLLOUT turn. Left at 0 it is the
    // receive buffer's size, 512 bytes, which would cut every coalesced write into 532-byte
    // pieces.
    impl_->protocols[0] = {"roompush", callback, sizeof(PerSession),
                           std::min(config.max_client_frame, kRxBufferBytes), 0, nullptr,
                           kCoalesceBytes + kMaxFrameHeader};
    impl_->retry.secs_since_valid_ping = static_cast<uint16_t>(config.ping_interval_s);
    impl_->retry.secs_since_valid_hangup =
        static_cast<uint16_t>(config.ping_interval_s + config.ping_timeout_s);

    lws_context_creation_info info{};
    // VALIDATE_UTF8: a text frame that is not UTF-8 closes its connection with 1007 (RFC 6455
    // 8.1), whether or not its bytes would parse as JSON.
    info.options = LWS_SERVER_OPTION_UNIX_SOCK | LWS_SERVER_OPTION_VALIDATE_UTF8;
    // Room for every header nginx passes on (its large_client_header_buffers: 4 x 8 KB), so that
    // a long URL or cookie gets an answer of ours, not a dropped handshake (a 502 from nginx).
    // Held only during a handshake.
    info.max_http_header_data = kMaxHandshakeBytes;
    info.iface = config.ws_socket.c_str();
    info.port = 0;
    info.protocols = impl_->protocols;
    info.retry_and_idle_policy = &impl_->retry;
    info.user = impl_.get();
    // 0, not -1: lws then neither changes the process's ids nor chowns the socket to them. With
    // -1 it calls chown(path, -1, -1), which systemd's filter of @privileged calls refuses, and
    // lws then leaves the vhost without a listener (and says so only in its log).
    info.gid = 0;
    info.uid = 0;
    if (auto created = impl_->create_context(info); !created) return created;
    if (!accepts_connections(config.ws_socket)) {
        return make_error("listen_failed", "libwebsockets did not listen on " + config.ws_socket +
                                               " (its log line above says why)");
    }
    // lws creates the socket with the umask's mode, which nginx's user may not be able to use.
    if (auto applied = set_socket_access(config.ws_socket,
                                         SocketAccess{config.socket_mode, config.ws_socket_group});
        !applied) {
        return applied.error();
    }
    log_info("ws_listening").kv("socket", config.ws_socket)
        .kv("event_loop", impl_->epoll_loop != nullptr ? "epoll" : "poll");
    return ok_status();
}

// Once many connections have gone (or retained history has expired), the heap they used is
// mostly free but still mapped: hand it back to the kernel, so that memory returns after a
// load. Soon after many closes, and otherwise every 15 s at most.
static void trim_after_closes(std::size_t sessions, std::size_t& peak,
                              std::chrono::steady_clock::time_point& last) {
    peak = std::max(peak, sessions);
    auto now = std::chrono::steady_clock::now();
    bool many_closed = peak >= 256 && sessions <= peak / 2 && now - last >= std::chrono::seconds(2);
    if (!many_closed && now - last < std::chrono::seconds(15)) return;
    ::malloc_trim(0);
    peak = sessions;
    last = now;
}

void WsServer::run() {
    Impl& impl = *impl_;
    std::size_t peak = 0;
    auto last_trim = std::chrono::steady_clock::now();
    while (!impl.finished) {
        if (impl.epoll_loop != nullptr) {
            if (!ev_run(impl.epoll_loop, EVRUN_ONCE)) break;  // nothing left to watch
        } else if (lws_service(impl.context, 0) < 0) {
            break;
        }
        trim_after_closes(impl.registry.session_count(), peak, last_trim);
        if (impl.stopping && (impl.registry.session_count() == 0 ||
                              std::chrono::steady_clock::now() > impl.stop_deadline)) {
            impl.finished = true;
        }
    }
    impl.finished = true;
}

void WsServer::post(std::function<void()> task) {
    {
        std::lock_guard lock(impl_->tasks_mutex);
        impl_->tasks.push_back(std::move(task));
    }
    lws_cancel_service(impl_->context);
}

void WsServer::request_stop() {
    impl_->stop_requested = true;
    lws_cancel_service(impl_->context);
}

bool WsServer::finished() const { return impl_->finished; }

void WsServer::wake(const std::vector<SessionId>& ids) { impl_->wake(ids); }

void WsServer::attach_sink(SessionId id, std::function<void()> drain) {
    impl_->sinks[id] = std::move(drain);
}

void WsServer::detach_sink(SessionId id) { impl_->sinks.erase(id); }

void WsServer::refuse_oversized_frames() {
    Impl& impl = *impl_;
    for (auto& [id, wsi] : impl.connections) {
        auto* session = static_cast<PerSession*>(lws_wsi_user(wsi));
        Session* state = impl.registry.find(id);
        if (session == nullptr || session->rx == nullptr || state == nullptr || state->closing()) continue;
        if (session->rx->size() + lws_remaining_packet_payload(wsi) > impl.config.max_client_frame) {
            session->rx->clear();
            impl.handler.on_too_big(id);
            lws_callback_on_writable(wsi);
        }
    }
}

}  // namespace rp::sidecar

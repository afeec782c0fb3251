// The one file that sees libwebsockets and libev: the context and its listener, the loop that
// runs them, the protocol callback (a noexcept trampoline into WsEngine) and LwsPort, which does
// what the engine and its policies ask of a connection with lws calls. Everything the sidecar
// decides is in plain C++ elsewhere (ws_engine.h lists where).
//
// Over 400 lines on purpose: this is the whole of the sidecar's contact with libwebsockets and
// libev, so that a new lws version (or another event library) is read and reviewed in one file.

#include "ws_server.h"

#include <ev.h>
#include <libwebsockets.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "allocator.h"
#include "heap_trim.h"
#include "recv_guard.h"
#include "roompush/log.h"
#include "roompush/unix_socket.h"
#include "ws_engine.h"

namespace rp::sidecar {

static_assert(LWS_PRE <= kFrameHeadroom, "frame headroom must fit libwebsockets' header");

namespace {

// libwebsockets allocates a receive buffer of the protocol's rx_buffer_size for every connection;
// a client's commands are small, and a longer frame still arrives, in pieces that FrameAssembler
// joins (up to --max-frame). 4 KB per idle connection was the largest item of its memory.
constexpr std::size_t kRxBufferBytes = 512;
constexpr unsigned short kMaxHandshakeBytes = 32 * 1024;

// --ws-deflate: lws' own permessage-deflate negotiates the extension and inflates what clients
// send compressed (each such connection gets its inflater on its first compressed message). What
// the sidecar sends never goes through it: every frame of a deflate member is a raw write of
// bytes compressed once per message (message_deflater.h).
constexpr const char* kDeflate = "permessage-deflate";
const lws_extension kDeflateExtensions[] = {
    {kDeflate, lws_extension_callback_pm_deflate, kDeflate},
    {nullptr, nullptr, nullptr},
};

lws* wsi_of(Wire* wire) { return reinterpret_cast<lws*>(wire); }
Wire* wire_of(lws* wsi) { return reinterpret_cast<Wire*>(wsi); }

void log_bridge(int level, const char* line) {
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    LogLevel mapped = level & LLL_ERR    ? LogLevel::error
                      : level & LLL_WARN ? LogLevel::warn
                                         : LogLevel::debug;
    LogLine(mapped, "lws").kv("message", text);
}

/* ---------------------------------------------------------------------------------------------
 * Reading a request
 * ------------------------------------------------------------------------------------------- */

std::string header_value(lws* wsi, lws_token_indexes token) {
    int length = lws_hdr_total_length(wsi, token);
    if (length <= 0) return {};
    std::string value(static_cast<size_t>(length) + 1, '\0');
    int copied = lws_hdr_copy(wsi, value.data(), length + 1, token);
    value.resize(copied > 0 ? static_cast<size_t>(copied) : 0);
    return value;
}

// A header lws has no token for (Last-Event-ID), whole ("" when absent): lws' header space
// (max_http_header_data) bounds it, and parse_sse_request refuses one that is too long.
std::string custom_header(lws* wsi, const char* name) {
    int name_length = static_cast<int>(std::strlen(name));
    int length = lws_hdr_custom_length(wsi, name, name_length);
    if (length <= 0) return "";
    std::string value(static_cast<size_t>(length) + 1, '\0');
    int copied = lws_hdr_custom_copy(wsi, value.data(), length + 1, name, name_length);
    value.resize(copied > 0 ? static_cast<size_t>(copied) : 0);
    return value;
}

// The whole query, however long (parse_ws_query refuses one that is too long: it must see it).
std::string query_string(lws* wsi) {
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

/* ---------------------------------------------------------------------------------------------
 * LwsPort: what the engine asks of a connection, in lws calls
 * ------------------------------------------------------------------------------------------- */

void on_turn_end(struct ev_loop*, ev_check* watcher, int) noexcept;
void on_no_waiting(struct ev_loop*, ev_idle*, int) noexcept {}

class LwsPort final : public WsPort {
public:
    struct ev_loop* epoll_loop = nullptr;  // ours, lent to libwebsockets; null: lws' own poll()
    WriteScheduler* scheduler = nullptr;   // flush_deferred() at the end of a brought turn

    void request_writeable(Wire* wire) override { lws_callback_on_writable(wsi_of(wire)); }

    bool can_write_now(Wire* wire) override {
        auto* connection = static_cast<WsConnection*>(lws_wsi_user(wsi_of(wire)));
        return connection != nullptr && !connection->peer_closed &&
               !lws_partial_buffered(wsi_of(wire));
    }

    bool write_frame(Wire* wire, Frame& frame) override {
        return lws_write(wsi_of(wire), frame.payload(), frame.size(), LWS_WRITE_TEXT) >= 0;
    }

    bool write_frames(Wire* wire, unsigned char* bytes, std::size_t size) override {
        return lws_write(wsi_of(wire), bytes, size, LWS_WRITE_RAW) >= 0;
    }

    bool deflates(Wire* wire) override {
        auto* connection = static_cast<WsConnection*>(lws_wsi_user(wsi_of(wire)));
        return connection != nullptr && connection->deflate;
    }

    // lws 4.1 has no call that says which extensions a connection has; setting an option of one
    // fails (-1) when it is not active. rx_buf_size changes nothing: lws caps it to the
    // protocol's receive buffer (512 bytes) whatever it is given.
    bool negotiated_deflate(Wire* wire) override {
        return lws_set_extension_option(wsi_of(wire), kDeflate, "rx_buf_size", "10") == 0;
    }

    void close_soon(Wire* wire) override {
        lws_set_timeout(wsi_of(wire), PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    }

    void set_close(Wire* wire, CloseCode code, std::string reason) override {
        lws_close_reason(wsi_of(wire), static_cast<lws_close_status>(code),
                         reinterpret_cast<unsigned char*>(reason.data()), reason.size());
    }

    // libev's check watchers run after the loop's wait, once what it found is handled; one
    // started now runs at the end of the next turn. The idle watcher keeps that turn from waiting.
    void schedule_turn_end() override {
        if (ev_is_active(&turn_end_)) return;
        ev_check_init(&turn_end_, on_turn_end);
        turn_end_.data = scheduler;
        ev_idle_init(&no_waiting_, on_no_waiting);
        ev_check_start(epoll_loop, &turn_end_);
        ev_idle_start(epoll_loop, &no_waiting_);
    }

    void cancel_turn_end() override {
        if (epoll_loop == nullptr) return;
        ev_check_stop(epoll_loop, &turn_end_);
        ev_idle_stop(epoll_loop, &no_waiting_);
    }

    std::string header(Wire* wire, RequestHeader which) override {
        switch (which) {
            case RequestHeader::path:
                return header_value(wsi_of(wire), WSI_TOKEN_GET_URI);
            case RequestHeader::query:
                return query_string(wsi_of(wire));
            case RequestHeader::origin:
                return header_value(wsi_of(wire), WSI_TOKEN_ORIGIN);
            case RequestHeader::forwarded_for:
                return header_value(wsi_of(wire), WSI_TOKEN_X_FORWARDED_FOR);
            case RequestHeader::last_event_id:
                return custom_header(wsi_of(wire), "last-event-id:");
            case RequestHeader::extensions:
                return header_value(wsi_of(wire), WSI_TOKEN_EXTENSIONS);
        }
        return {};
    }

    WsConnection* connection(Wire* wire) override {
        return static_cast<WsConnection*>(lws_wsi_user(wsi_of(wire)));
    }

    std::size_t announced(Wire* wire) override {
        return lws_remaining_packet_payload(wsi_of(wire));
    }

    // What lws_return_http_status does with an HTML page, with our JSON body.
    void answer_now(Wire* wire, const HttpAnswer& answer) override;
    bool send_headers(Wire* wire, int status, const char* content_type,
                      std::size_t length) override;
    bool send_body(Wire* wire, const std::string& body) override;
    bool send_stream_headers(Wire* wire) override;
    bool send_stream_bytes(Wire* wire, const std::string& bytes) override;
    bool complete_transaction(Wire* wire) override {
        return lws_http_transaction_completed(wsi_of(wire)) != 0;
    }

private:
    ev_check turn_end_{};
    ev_idle no_waiting_{};
};

void LwsPort::answer_now(Wire* wire, const HttpAnswer& answer) {
    lws* wsi = wsi_of(wire);
    unsigned char buffer[LWS_PRE + 1024];
    unsigned char* start = buffer + LWS_PRE;
    unsigned char* position = start;
    unsigned char* end = buffer + sizeof buffer - 1;
    if (lws_add_http_common_headers(wsi, static_cast<http_status>(answer.status),
                                    answer.content_type, answer.body.size(), &position, end)) {
        return;
    }
    if (answer.extra_header != nullptr) {
        auto name = reinterpret_cast<const unsigned char*>(answer.extra_header);
        auto value = reinterpret_cast<const unsigned char*>(answer.extra_value);
        int length = static_cast<int>(std::strlen(answer.extra_value));
        if (lws_add_http_header_by_name(wsi, name, value, length, &position, end)) return;
    }
    if (lws_finalize_http_header(wsi, &position, end)) return;
    auto header_bytes = static_cast<size_t>(position - start);
    if (lws_write(wsi, start, header_bytes, LWS_WRITE_HTTP_HEADERS) < 0) return;
    std::vector<unsigned char> payload(LWS_PRE + answer.body.size());
    std::copy(answer.body.begin(), answer.body.end(), payload.begin() + LWS_PRE);
    lws_write(wsi, payload.data() + LWS_PRE, answer.body.size(), LWS_WRITE_HTTP_FINAL);
}

bool LwsPort::send_headers(Wire* wire, int status, const char* content_type, std::size_t length) {
    unsigned char headers[LWS_PRE + 512];
    unsigned char* start = headers + LWS_PRE;
    unsigned char* position = start;
    unsigned char* end = headers + sizeof headers - 1;
    return lws_add_http_common_headers(wsi_of(wire), static_cast<http_status>(status), content_type,
                                       length, &position, end) == 0 &&
           lws_finalize_write_http_header(wsi_of(wire), start, &position, end) == 0;
}

bool LwsPort::send_body(Wire* wire, const std::string& body) {
    std::vector<unsigned char> buffer(LWS_PRE + body.size());
    std::copy(body.begin(), body.end(), buffer.begin() + LWS_PRE);
    return lws_write(wsi_of(wire), buffer.data() + LWS_PRE, body.size(), LWS_WRITE_HTTP_FINAL) >= 0;
}

// No Content-Length: the stream ends when the connection does. nginx is told not to buffer it
// (X-Accel-Buffering), and lws not to time the connection out: the heartbeat keeps it alive.
bool LwsPort::send_stream_headers(Wire* wire) {
    lws* wsi = wsi_of(wire);
    unsigned char headers[LWS_PRE + 512];
    unsigned char* start = headers + LWS_PRE;
    unsigned char* position = start;
    unsigned char* end = headers + sizeof headers - 1;
    auto add = [&](const char* name, const char* value) {
        return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name),
                                           reinterpret_cast<const unsigned char*>(value),
                                           static_cast<int>(std::strlen(value)), &position,
                                           end) == 0;
    };
    bool written = lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
                                               LWS_ILLEGAL_HTTP_CONTENT_LEN, &position, end) == 0 &&
                   add("cache-control:", "no-cache") && add("x-accel-buffering:", "no") &&
                   lws_finalize_write_http_header(wsi, start, &position, end) == 0;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return written;
}

bool LwsPort::send_stream_bytes(Wire* wire, const std::string& bytes) {
    std::vector<unsigned char> buffer(LWS_PRE + bytes.size());
    std::copy(bytes.begin(), bytes.end(), buffer.begin() + LWS_PRE);
    return lws_write(wsi_of(wire), buffer.data() + LWS_PRE, bytes.size(), LWS_WRITE_HTTP) >= 0;
}

// libev calls this on the loop thread; like lws' callback, it never throws.
void on_turn_end(struct ev_loop*, ev_check* watcher, int) noexcept {
    try {
        static_cast<WriteScheduler*>(watcher->data)->flush_deferred();
    } catch (const std::exception& error) {
        log_error("deferred_writes_failed").kv("error", error.what());
    }
}

}  // namespace

/* ---------------------------------------------------------------------------------------------
 * The server's state, and the callback
 * ------------------------------------------------------------------------------------------- */

struct WsServer::Impl {
    Impl(const SidecarConfig& c, RoomRegistry& r, SidecarMetrics& m)
        : config(c), registry(r), metrics(m), engine(c, r, m, port, LWS_PRE) {
        port.scheduler = &engine.scheduler();
    }

    const SidecarConfig& config;
    RoomRegistry& registry;
    SidecarMetrics& metrics;
    LwsPort port;
    WsEngine engine;
    lws_context* context = nullptr;
    lws_retry_bo_t retry{};
    lws_protocols protocols[2]{};
    std::atomic<bool> finished{false};

    Status create_context(const lws_context_creation_info& info);
};

namespace {

// The callback's whole work: say which event it is, in plain C++.
int dispatch(WsEngine& engine, lws* wsi, lws_callback_reasons reason, WsConnection* connection,
             void* in, size_t len) {
    Wire* wire = wire_of(wsi);
    switch (reason) {
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return static_cast<int>(engine.confirm_upgrade(wire));
        case LWS_CALLBACK_CONFIRM_EXTENSION_OKAY:
            return static_cast<int>(engine.confirm_deflate(wire));
        case LWS_CALLBACK_HTTP:
            return static_cast<int>(engine.http_request(wire, connection));
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return static_cast<int>(engine.http_writeable(wire, connection));
        case LWS_CALLBACK_CLOSED_HTTP:
            engine.http_closed(connection);
            return 0;
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            return static_cast<int>(engine.peer_closing(
                connection, std::string_view(static_cast<const char*>(in), len)));
        case LWS_CALLBACK_RECEIVE_PONG:
            engine.pong(connection);
            return 0;
        case LWS_CALLBACK_ESTABLISHED:
            recv_guard::watch(lws_get_socket_fd(wsi));
            engine.opened(wire, connection);
            return 0;
        case LWS_CALLBACK_RECEIVE:
            return static_cast<int>(engine.received(
                wire, connection,
                Fragment{std::string_view(static_cast<const char*>(in), len),
                         lws_frame_is_binary(wsi) != 0, lws_is_final_fragment(wsi) != 0,
                         lws_remaining_packet_payload(wsi)}));
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return static_cast<int>(engine.writeable(wire, connection));
        case LWS_CALLBACK_CLOSED:
            recv_guard::forget(lws_get_socket_fd(wsi));
            engine.closed(connection);
            return 0;
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            engine.woken();
            return 0;
        default:
            return 0;
    }
}

int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) noexcept {
    auto* impl = static_cast<WsServer::Impl*>(lws_context_user(lws_get_context(wsi)));
    if (impl == nullptr) return 0;
    try {
        return dispatch(impl->engine, wsi, reason, static_cast<WsConnection*>(user), in, len);
    } catch (const std::exception& error) {
        log_error("ws_callback_failed").kv("error", error.what());
        return -1;
    }
}

/* ---------------------------------------------------------------------------------------------
 * The context: on libev's epoll, or on lws' own poll()
 * ------------------------------------------------------------------------------------------- */

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
lws_context* create_on_epoll(lws_context_creation_info info, struct ev_loop*& loop) {
    loop =
        ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) |
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

}  // namespace

// The loop --event-loop asks for (auto falls back to lws' own when the plugin does not load),
// then the listener on it.
Status WsServer::Impl::create_context(const lws_context_creation_info& info) {
    if (config.event_loop != EventLoop::poll) {
        context = create_on_epoll(info, port.epoll_loop);
        if (context == nullptr && config.event_loop == EventLoop::epoll) {
            return make_error(
                "event_loop_unavailable",
                "libwebsockets could not run on libev's epoll loop (is the package "
                "libwebsockets-evlib-ev installed?); --event-loop poll runs without it");
        }
        if (context == nullptr) {
            log_warn("event_loop_fallback")
                .kv("event_loop", "poll")
                .kv("hint", "install libwebsockets-evlib-ev for the epoll loop");
        }
    }
    engine.scheduler().set_turn_end_available(port.epoll_loop != nullptr);
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

/* ---------------------------------------------------------------------------------------------
 * WsServer
 * ------------------------------------------------------------------------------------------- */

WsServer::WsServer(const SidecarConfig& config, RoomRegistry& registry, SidecarMetrics& metrics)
    : impl_(std::make_unique<Impl>(config, registry, metrics)) {}

WsServer::~WsServer() {
    // A borrowed loop outlives the context: destroying it stops the watchers lws keeps there.
    // Ours go first: they write through lws.
    impl_->port.cancel_turn_end();
    if (impl_->context != nullptr) lws_context_destroy(impl_->context);
    if (impl_->port.epoll_loop != nullptr) ev_loop_destroy(impl_->port.epoll_loop);
}

Status WsServer::start() {
    const SidecarConfig& config = impl_->config;
    int lws_levels = LLL_ERR | LLL_WARN;
    if (config.lws_debug) lws_levels |= LLL_NOTICE | LLL_INFO;
    lws_set_log_level(lws_levels, log_bridge);
    if (auto claimed = claim_socket_path(config.ws_socket); !claimed) return claimed.error();
    recv_guard::start_on_this_thread(impl_->metrics.ws_refused);  // run() is on this thread too

    // tx_packet_size: libwebsockets sends at most this much per send() (plus LWS_PRE + 4) and
    // copies the rest into a buffer sent one chunk per POLLOUT turn. Left at 0 it is the
    // receive buffer's size, 512 bytes, which would cut every coalesced write into 532-byte
    // pieces.
    impl_->protocols[0] = {"roompush",
                           callback,
                           sizeof(WsConnection),
                           std::min(config.max_client_frame, kRxBufferBytes),
                           0,
                           nullptr,
                           WriteScheduler::kCoalesceBytes + WriteScheduler::kMaxFrameHeader};
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
    info.extensions = config.ws_deflate ? kDeflateExtensions : nullptr;
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
    log_info("ws_listening")
        .kv("socket", config.ws_socket)
        .kv("event_loop", impl_->port.epoll_loop != nullptr ? "epoll" : "poll");
    return ok_status();
}

void WsServer::run() {
    Impl& impl = *impl_;
    HeapTrim trim(HeapTrim::Clock::now(), release_free_memory);
    while (!impl.finished) {
        if (impl.port.epoll_loop != nullptr) {
            if (!ev_run(impl.port.epoll_loop, EVRUN_ONCE)) break;  // nothing left to watch
        } else if (lws_service(impl.context, 0) < 0) {
            break;
        }
        auto now = HeapTrim::Clock::now();
        trim.after_turn(impl.registry.session_count(), now);
        if (impl.engine.shut_down(now)) impl.finished = true;
    }
    impl.finished = true;
}

void WsServer::post(std::function<void()> task) {
    if (impl_->engine.tasks().post(std::move(task))) lws_cancel_service(impl_->context);
}

void WsServer::request_stop() {
    impl_->engine.request_stop();
    lws_cancel_service(impl_->context);
}

bool WsServer::finished() const { return impl_->finished; }

void WsServer::set_client_publisher(ClientPublisher* publisher) {
    impl_->engine.set_publisher(publisher);
}

void WsServer::wake(const std::vector<SessionId>& ids) { impl_->engine.scheduler().wake(ids); }

void WsServer::attach_sink(SessionId id, std::function<void()> drain) {
    impl_->engine.scheduler().attach_sink(id, std::move(drain));
}

void WsServer::detach_sink(SessionId id) { impl_->engine.scheduler().detach_sink(id); }

void WsServer::every_second() {
    impl_->engine.refuse_oversized_frames();
    impl_->engine.flush_presence_counts();
    impl_->engine.sse_heartbeat();
}

RoomPresence& WsServer::room_presence() { return impl_->engine.room_presence(); }

}  // namespace rp::sidecar

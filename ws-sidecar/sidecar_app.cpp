#include "sidecar_app.h"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "control_handler.h"
#include "control_server.h"
#include "roompush/log.h"
#include "room_registry.h"
#include "tail_stream.h"
#include "ws_server.h"

namespace rp::sidecar {
namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

// Everything the control connections reach, owned by the loop thread.
struct Engine {
    const SidecarConfig& config;
    RoomRegistry& registry;
    SidecarMetrics& metrics;
    WsServer& server;
    ControlContext context;
};

// Runs `work` on the loop thread and waits for its answer.
template <class Work>
auto on_loop(WsServer& server, Work work) -> std::optional<decltype(work())> {
    using Value = decltype(work());
    auto promise = std::make_shared<std::promise<Value>>();
    auto future = promise->get_future();
    server.post([promise, work = std::move(work)]() mutable {
        try {
            promise->set_value(work());
        } catch (...) {
            promise->set_exception(std::current_exception());
        }
    });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return std::nullopt;
    try {
        return future.get();
    } catch (const std::exception& error) {
        log_error("control_request_failed").kv("error", error.what());
        return std::nullopt;
    }
}

std::string unavailable() {
    return encode_error_response(
        make_error("unavailable", "the sidecar's event loop did not answer in time"));
}

// `tail`: a session in the rooms whose frames go to a TailStream instead of a WebSocket.
ControlServer::Outcome start_tail(Engine& engine, const ControlRequest& request) {
    auto stream = std::make_shared<TailStream>(engine.config.max_tail_bytes);
    auto shared_request = std::make_shared<ControlRequest>(ControlRequest{
        request.op, request.room, request.rooms, {}, {}, nullptr, request.since, {}, 0});
    auto started = on_loop(engine.server, [&engine, stream, shared_request]() -> Result<SessionId> {
        SessionId id = engine.registry.add_session("control:tail", now_ms());
        for (const std::string& room : shared_request->rooms) {
            auto joined = engine.registry.join(id, room, JoinRequest{shared_request->since, "", true});
            if (!joined) {
                engine.registry.remove_session(id);
                return joined.error();
            }
        }
        auto drain = [&engine, stream, id] {
            Session* session = engine.registry.find(id);
            if (session == nullptr) return;
            while (FramePtr frame = session->pop()) stream->push(std::move(frame));
            if (auto close = session->due_close()) stream->end(close->reason);
        };
        engine.server.attach_sink(id, drain);
        drain();
        return id;
    });
    if (!started) return {unavailable(), nullptr, nullptr};
    if (!*started) return {encode_error_response(started->error()), nullptr, nullptr};
    SessionId id = started->value();
    log_info("tail_started").kv("session", id).kv("rooms", request.rooms.size());
    auto end = [&engine, id] {
        engine.server.post([&engine, id] {
            engine.server.detach_sink(id);
            engine.registry.remove_session(id);
        });
    };
    return {R"({"ok":true})", stream, end};
}

ControlServer::Handler control_handler(Engine& engine) {
    return [&engine](ControlRequest request) -> ControlServer::Outcome {
        if (request.op == ControlOp::tail) return start_tail(engine, request);
        auto shared_request = std::make_shared<ControlRequest>(std::move(request));
        auto line = on_loop(engine.server, [&engine, shared_request] {
            ControlReply reply = handle_control(engine.context, *shared_request, now_ms());
            for (SessionId id : reply.wake) engine.server.wake(id);
            return reply.line;
        });
        return {line ? *line : unavailable(), nullptr, nullptr};
    };
}

// A pipelined batch of requests (publishes, usually) in one hand-over to the loop.
ControlServer::BatchHandler control_batch_handler(Engine& engine) {
    return [&engine](std::vector<ControlRequest> requests) -> std::vector<std::string> {
        auto shared = std::make_shared<std::vector<ControlRequest>>(std::move(requests));
        auto lines = on_loop(engine.server, [&engine, shared] {
            std::vector<std::string> out;
            out.reserve(shared->size());
            int64_t now = now_ms();
            for (const ControlRequest& request : *shared) {
                ControlReply reply = handle_control(engine.context, request, now);
                for (SessionId id : reply.wake) engine.server.wake(id);
                out.push_back(std::move(reply.line));
            }
            return out;
        });
        if (lines) return std::move(*lines);
        return std::vector<std::string>(shared->size(), unavailable());
    };
}

}  // namespace

int run(const SidecarConfig& config) {
    // Signals are taken by one thread with sigwait, never by a handler in the middle of lws.
    sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    SidecarMetrics metrics;
    RoomRegistry registry(
        RegistryLimits{config.max_queue_bytes, config.max_rooms_per_connection, config.history},
        metrics);
    WsServer server(config, registry, metrics);
    if (auto started = server.start(); !started) {
        log_error("start_failed").kv("code", started.error().code).kv("error", started.error().message);
        return 1;
    }
    Engine engine{config, registry, metrics, server, ControlContext{registry, metrics, now_ms()}};
    ControlServer control(config.control_socket, config.socket_mode, config.max_control_line,
                          config.max_control_clients,
                          ControlServer::PeerPolicy{config.control_uids, config.control_gids}, metrics,
                          control_handler(engine), control_batch_handler(engine));
    if (auto started = control.start(); !started) {
        log_error("start_failed").kv("code", started.error().code).kv("error", started.error().message);
        return 1;
    }
    if (config.auth_secrets.empty()) {
        log_warn("rooms_open").kv("hint", "anyone who can guess a room id can join it; set --auth-secret-file");
    }
    log_info("ready")
        .kv("ws", config.ws_socket)
        .kv("control", config.control_socket)
        .kv("history", config.history.max_messages)
        .kv("history_ttl_s", config.history.ttl_ms / 1000);

    // Under systemd (Type=notify) the unit is ready only once both sockets listen.
    sd_notify(0, "READY=1");
    uint64_t watchdog_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;

    // This thread takes the stop signals and, once a second, has the loop expire old history and
    // feed the watchdog: the ping comes from the loop itself, so a stuck loop is noticed.
    std::thread housekeeper([&] {
        timespec tick{0, 100 * 1000 * 1000};
        auto next_expiry = std::chrono::steady_clock::now();
        while (!server.finished()) {
            if (std::chrono::steady_clock::now() >= next_expiry) {
                server.post([&registry, watchdog] {
                    registry.expire(now_ms());
                    if (watchdog) sd_notify(0, "WATCHDOG=1");
                });
                next_expiry += std::chrono::seconds(1);
            }
            int signal_number = sigtimedwait(&signals, nullptr, &tick);
            if (signal_number <= 0) continue;
            log_info("signal").kv("signal", signal_number);
            sd_notify(0, "STOPPING=1");
            control.stop();
            while (!server.finished()) {  // keep the loop awake while clients get their 1001
                server.request_stop();
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
    });
    server.run();
    housekeeper.join();
    control.stop();
    log_info("stopped");
    return 0;
}

}  // namespace rp::sidecar

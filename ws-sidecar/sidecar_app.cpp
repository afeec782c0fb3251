#include "sidecar_app.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "control_handler.h"
#include "control_server.h"
#include "roompush/log.h"
#include "room_registry.h"
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

// Runs a control request on the loop thread and waits for its answer.
ControlServer::Handler loop_handler(WsServer& server, RoomRegistry& registry) {
    return [&server, &registry](ControlRequest request) {
        auto promise = std::make_shared<std::promise<std::string>>();
        auto future = promise->get_future();
        auto shared_request = std::make_shared<ControlRequest>(std::move(request));
        server.post([&server, &registry, promise, shared_request] {
            ControlReply reply = handle_control(registry, *shared_request, now_ms());
            for (SessionId id : reply.wake) server.wake(id);
            promise->set_value(std::move(reply.line));
        });
        if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            return encode_error_response(
                make_error("unavailable", "the sidecar's event loop did not answer in time"));
        }
        return future.get();
    };
}

}  // namespace

int run(const SidecarConfig& config) {
    // Signals are taken by one thread with sigwait, never by a handler in the middle of lws.
    sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    RoomRegistry registry(RegistryLimits{config.max_queue_bytes, config.max_rooms_per_connection});
    WsServer server(config, registry);
    if (auto started = server.start(); !started) {
        log_error("start_failed").kv("code", started.error().code).kv("error", started.error().message);
        return 1;
    }
    ControlServer control(config.control_socket, config.socket_mode, config.max_control_line,
                          config.max_control_clients, loop_handler(server, registry));
    if (auto started = control.start(); !started) {
        log_error("start_failed").kv("code", started.error().code).kv("error", started.error().message);
        return 1;
    }
    log_info("ready").kv("ws", config.ws_socket).kv("control", config.control_socket);

    std::thread stopper([&] {
        timespec tick{0, 100 * 1000 * 1000};
        while (!server.finished()) {
            int signal_number = sigtimedwait(&signals, nullptr, &tick);
            if (signal_number <= 0) continue;
            log_info("signal").kv("signal", signal_number);
            control.stop();
            while (!server.finished()) {  // keep the loop awake while clients get their 1001
                server.request_stop();
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
    });
    server.run();
    stopper.join();
    control.stop();
    log_info("stopped");
    return 0;
}

}  // namespace rp::sidecar

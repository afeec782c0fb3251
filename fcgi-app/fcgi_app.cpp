#include "fcgi_app.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "fcgi_server.h"
#include "http_router.h"
#include "job_queue.h"
#include "job_runner.h"
#include "job_store.h"
#include "push_sender.h"
#include "roompush/log.h"
#include "roompush/unix_socket.h"
#include "upload_handler.h"

namespace rp::app {
namespace {

// systemd socket activation: LISTEN_PID is us and LISTEN_FDS names at least one socket (fd 3).
bool socket_from_systemd() {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    return pid != nullptr && fds != nullptr && std::atol(pid) == ::getpid() && std::atoi(fds) >= 1;
}

Result<UniqueFd> open_listener(const AppConfig& config) {
    if (socket_from_systemd()) {
        log_info("fcgi_listening").kv("socket", "systemd").kv("fd", 3);
        return UniqueFd(3);
    }
    auto fd = listen_unix(config.listen, config.socket_mode, 128);
    if (fd) log_info("fcgi_listening").kv("socket", config.listen);
    return fd;
}

int wait_for_stop_signal(const sigset_t& signals) {
    int signal_number = 0;
    while (sigwait(&signals, &signal_number) != 0) {
    }
    return signal_number;
}

}  // namespace

int run(const AppConfig& config) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    JobStore store(config.spool_dir);
    if (auto prepared = store.prepare(); !prepared) {
        log_error("start_failed").kv("code", prepared.error().code).kv("error", prepared.error().message);
        return 1;
    }
    auto listener = open_listener(config);
    if (!listener) {
        log_error("start_failed").kv("code", listener.error().code).kv("error", listener.error().message);
        return 1;
    }

    PushSender pushes(config.control_socket, config.max_pending_pushes);
    pushes.start();
    std::atomic<bool> stopping{false};
    JobRunner runner(config, store, pushes, stopping);
    JobQueue queue(config.queue, config.workers, [&](const std::string& id) { runner.run(id); });
    queue.start();
    UploadHandler uploads(config, store, queue, pushes);
    HttpRouter router(config, store, uploads);
    FcgiServer server(listener->get(), config.threads,
                      [&](HttpRequest& request) { return router.route(request); });
    server.start();
    log_info("ready").kv("spool", config.spool_dir).kv("sidecar", config.control_socket);

    int signal_number = wait_for_stop_signal(signals);
    log_info("signal").kv("signal", signal_number);
    server.stop();
    stopping = true;  // running programs are interrupted, and reported so
    queue.stop();
    pushes.stop(std::chrono::seconds(2));
    if (!socket_from_systemd()) ::unlink(config.listen.c_str());
    log_info("stopped");
    return 0;
}

}  // namespace rp::app

#include "sidecar_app.h"

#include <systemd/sd-daemon.h>

#include <memory>
#include <thread>

#include "allocator.h"
#include "broker_factory.h"
#include "client_publisher.h"
#include "control_dispatch.h"
#include "control_server.h"
#include "housekeeper.h"
#include "room_registry.h"
#include "roompush/log.h"
#include "roompush/wall_clock.h"
#include "ws_server.h"

namespace rp::sidecar {
namespace {

// The libwebsockets loop as the control socket and the broker see it.
class WsServerLoop final : public LoopPort {
public:
    explicit WsServerLoop(WsServer& server) : server_(server) {}
    void post(std::function<void()> task) override { server_.post(std::move(task)); }
    void wake(const std::vector<SessionId>& ids) override { server_.wake(ids); }
    void attach_sink(SessionId id, std::function<void()> drain) override {
        server_.attach_sink(id, std::move(drain));
    }
    void detach_sink(SessionId id) override { server_.detach_sink(id); }

private:
    WsServer& server_;
};

// systemd sees the reload (RELOADING=1 ... READY=1) whichever way it was asked for.
Result<ReloadReport> reload(Reloader& reloader) {
    sd_notify(0, "RELOADING=1");
    auto report = reloader.reload();
    sd_notify(0, "READY=1");
    return report;
}

bool started(const Status& status) {
    if (status) return true;
    log_error("start_failed").kv("code", status.error().code).kv("error", status.error().message);
    return false;
}

RegistryLimits registry_limits(const SidecarConfig& config) {
    return {.max_queue_bytes = config.max_queue_bytes,
            .max_rooms_per_session = config.max_rooms_per_connection,
            .history = config.history,
            .shared = config.broker.redis()};
}

ControlServer::Config control_config(const SidecarConfig& config) {
    return {.path = config.control_socket,
            .mode = config.socket_mode,
            .max_line = config.max_control_line,
            .max_clients = config.max_control_clients,
            .peers = {config.control_uids, config.control_gids}};
}

// Under systemd (Type=notify) the unit is ready only once both sockets listen.
void announce_ready(const SidecarConfig& config) {
    if (config.auth_secrets.empty()) {
        log_warn("rooms_open")
            .kv("hint", "anyone who can guess a room id can join it; set --auth-secret-file");
    }
    log_info("ready")
        .kv("ws", config.ws_socket)
        .kv("control", config.control_socket)
        .kv("history", config.history.max_messages)
        .kv("history_ttl_s", config.history.ttl_ms / 1000)
        .kv("allocator", allocator_name());
    sd_notify(0, "READY=1");
}

}  // namespace

// Threads: the event loop (this one, in server.run()), the control socket's (an accept thread
// and one per connection), the housekeeper's, a Redis broker's two, and with Redis the one
// that publishes browsers' messages.
int run(LoadedConfig& start, Reloader::Loader load_again) {
    SidecarConfig& config = start.config;
    sigset_t signals = Housekeeper::block_signals();  // before any thread starts
    SidecarMetrics metrics;
    RoomRegistry registry(registry_limits(config), metrics);
    WsServer server(config, registry, metrics);
    if (!started(server.start())) return 1;
    WsServerLoop loop(server);
    std::unique_ptr<Broker> broker =
        make_broker(config, registry, metrics, loop, server.room_presence());
    BrokerClientPublisher client_publisher(*broker, registry, loop, metrics);
    server.set_client_publisher(&client_publisher);
    Reloader reloader(config, std::move(start.values), std::move(load_again), server);
    ControlDispatch dispatch({.loop = loop,
                              .registry = registry,
                              .metrics = metrics,
                              .broker = *broker,
                              .reload = [&reloader] { return reload(reloader); },
                              .max_tail_bytes = config.max_tail_bytes,
                              .started_ms = now_ms(),
                              .presence = &server.room_presence()});
    ControlServer control(
        control_config(config), metrics,
        [&dispatch](auto requests, AnswerWriter& writer) {
            return dispatch.answer(std::move(requests), &writer);
        },
        // Only a shared broker's publishes wait on Redis; the memory broker's need no pipeline.
        broker->shared()
            ? ControlServer::Pipeline([&dispatch](auto& requests, const auto& pending) {
                  return dispatch.pipeline(requests, pending);
              })
            : ControlServer::Pipeline());
    if (!started(control.start())) return 1;
    announce_ready(config);

    Housekeeper housekeeper(server, registry, *broker, config.node_id);
    std::thread housekeeping([&] {
        housekeeper.run(
            signals, [&reloader] { (void)reload(reloader); }, [&control] { control.stop(); });
    });
    server.run();
    housekeeping.join();
    control.stop();
    client_publisher.stop();
    broker->stop();
    log_info("stopped");
    return 0;
}

}  // namespace rp::sidecar

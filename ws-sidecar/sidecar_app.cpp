#include "sidecar_app.h"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "cluster_view.h"
#include "control_handler.h"
#include "control_server.h"
#include "loop_call.h"
#include "redis_broker.h"
#include "roompush/log.h"
#include "room_registry.h"
#include "sidecar_reload.h"
#include "tail_stream.h"
#include "ws_server.h"

namespace rp::sidecar {
namespace {

// One step of history expiry on the loop: ~1 ms at most (freeing 100,000 expired messages at
// once took 37 ms, a stall every client of the sidecar would have felt).
constexpr RoomRegistry::ExpiryBudget kExpiryStep{4096, 2000};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Loop thread. A round of expiry that one step did not finish goes on in the loop's next turn,
// after whatever I/O is waiting: expiry takes the loop's spare time, never a long stretch of it.
// One round at a time: the once-a-second start does nothing while a round is still going.
void expire_step(WsServer& server, RoomRegistry& registry, bool& going) {
    going = !registry.expire(now_ms(), kExpiryStep);
    if (going) server.post([&server, &registry, &going] { expire_step(server, registry, going); });
}

// SIGTERM and SIGINT stop the sidecar; SIGHUP reloads it.
sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

// systemd sees the reload (RELOADING=1 ... READY=1) whichever way it was asked for.
Result<ReloadReport> reload(Reloader& reloader) {
    sd_notify(0, "RELOADING=1");
    auto report = reloader.reload();
    sd_notify(0, "READY=1");
    return report;
}

// Everything the control connections reach, owned by the loop thread.
struct Engine {
    const SidecarConfig& config;
    Reloader& reloader;
    RoomRegistry& registry;
    SidecarMetrics& metrics;
    WsServer& server;
    Broker& broker;
    ControlContext context;
};

// Runs `work` on the loop thread and waits for its answer; nullopt (the work was not done, or
// it threw) when the loop did not take it up within 10 s.
template <class Work>
auto on_loop(WsServer& server, Work work) -> std::optional<decltype(work())> {
    try {
        return call_on_loop(server, std::move(work), std::chrono::seconds(10));
    } catch (const std::exception& error) {
        log_error("control_request_failed").kv("error", error.what());
        return std::nullopt;
    }
}

std::string unavailable() {
    return encode_error_response(
        make_error("unavailable", "the sidecar's event loop did not answer in time"));
}

// The memory broker: the registry on the loop thread is the whole truth.
class MemoryBroker : public Broker {
public:
    MemoryBroker(WsServer& server, RoomRegistry& registry) : server_(server), registry_(registry) {}
    bool shared() const override { return false; }
    Status start(BrokerListener) override { return ok_status(); }
    void stop() override {}
    // The control socket's batches publish on the loop directly (one hand-over per batch); this
    // is the same publish for any other caller of the interface.
    Result<PublishAck> publish(const ControlRequest& request, int64_t now) override {
        // The task may outlive a timed-out wait: it owns what it reads.
        auto ack = on_loop(server_, [this, room = request.room, event = request.event,
                                     id = request.id, data = request.data, now] {
            PublishOutcome outcome = registry_.publish(room, event, data, id, now);
            server_.wake(outcome.wake);
            return PublishAck{outcome.seq, outcome.delivered, outcome.duplicate};
        });
        if (!ack) return make_error("unavailable", "the sidecar's event loop did not answer in time");
        return *ack;
    }
    Result<std::optional<HistoryPage>> history(const std::string&, uint64_t, std::size_t) override {
        return std::optional<HistoryPage>{};
    }
    void fetch(const std::string&, std::optional<uint64_t>) override {}
    void report_members(std::string) override {}
    Result<std::vector<std::string>> cluster_reports() override {
        return make_error("not_clustered", "--cluster needs --broker redis://...");
    }

private:
    WsServer& server_;
    RoomRegistry& registry_;
};

std::string publish(Engine& engine, const ControlRequest& request) {
    auto ack = engine.broker.publish(request, now_ms());
    if (!ack) {
        log_warn("publish_failed").kv("room", request.room).kv("code", ack.error().code)
            .kv("error", ack.error().message);
        return encode_error_response(ack.error());
    }
    log_debug("publish").kv("room", request.room).kv("event", request.event).kv("seq", ack->seq)
        .kv("delivered", ack->delivered).kv("duplicate", ack->duplicate);
    return encode_publish_response(*ack);
}

// Shared broker: history is read from the room's stream, not from this node's cache.
std::string shared_history(Engine& engine, const ControlRequest& request) {
    constexpr std::size_t kDefaultLimit = 1000;
    auto page = engine.broker.history(request.room, request.since.value_or(0),
                                      request.limit.value_or(kDefaultLimit));
    if (!page) return encode_error_response(page.error());
    if (!*page) return encode_error_response(make_error("not_found", "no room " + request.room));
    return encode_history_page(request.room, **page);
}

std::string cluster(Engine& engine, const ControlRequest& request) {
    auto reports = engine.broker.cluster_reports();
    if (!reports) return encode_error_response(reports.error());
    if (request.op == ControlOp::rooms) return encode_cluster_rooms(*reports);
    return encode_cluster_room(request.room, *reports);
}

// What a shared broker answers from Redis, on the control thread (never on the loop): publish,
// history, and every node's members. Nothing for the rest, which the loop answers.
std::optional<std::string> off_loop_answer(Engine& engine, const ControlRequest& request) {
    if (request.op == ControlOp::reload) {
        auto report = reload(engine.reloader);
        if (!report) return encode_error_response(report.error());
        return encode_reload_response(report->applied, report->restart_needed);
    }
    if (request.cluster) return cluster(engine, request);
    if (!engine.broker.shared()) return std::nullopt;
    if (request.op == ControlOp::publish) return publish(engine, request);
    if (request.op == ControlOp::history) return shared_history(engine, request);
    return std::nullopt;
}

// `tail`: a session in the rooms whose frames go to a TailStream instead of a WebSocket.
ControlServer::Outcome start_tail(Engine& engine, const ControlRequest& request) {
    auto stream = std::make_shared<TailStream>(engine.config.max_tail_bytes);
    auto shared_request = std::make_shared<ControlRequest>(ControlRequest{
        request.op, request.room, request.rooms, {}, {}, {}, request.since, {}, 0, false, false});
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
        if (auto answer = off_loop_answer(engine, request)) return {*answer, nullptr, nullptr};
        auto shared_request = std::make_shared<ControlRequest>(std::move(request));
        auto line = on_loop(engine.server, [&engine, shared_request] {
            ControlReply reply = handle_control(engine.context, *shared_request, now_ms());
            engine.server.wake(reply.wake);
            return reply.line;
        });
        return {line ? *line : unavailable(), nullptr, nullptr};
    };
}

// A pipelined batch of requests (publishes, usually) in one hand-over to the loop. What a shared
// broker answers is answered off the loop, in its place in the order.
ControlServer::BatchHandler control_batch_handler(Engine& engine) {
    return [&engine](std::vector<ControlRequest> requests) -> std::vector<std::string> {
        std::vector<std::string> out(requests.size());
        std::vector<std::size_t> slots;
        auto shared = std::make_shared<std::vector<ControlRequest>>();
        auto run_on_loop = [&] {
            if (shared->empty()) return;
            auto lines = on_loop(engine.server, [&engine, shared] {
                std::vector<std::string> answers;
                answers.reserve(shared->size());
                int64_t now = now_ms();
                for (const ControlRequest& request : *shared) {
                    // One request that fails is answered on its own: the batch's earlier ones
                    // are done, and must not be answered `unavailable` (which means "not done").
                    try {
                        ControlReply reply = handle_control(engine.context, request, now);
                        engine.server.wake(reply.wake);
                        answers.push_back(std::move(reply.line));
                    } catch (const std::exception& error) {
                        log_error("control_request_failed")
                            .kv("op", op_name(request.op))
                            .kv("error", error.what());
                        answers.push_back(
                            encode_error_response(make_error("internal_error", error.what())));
                    }
                }
                return answers;
            });
            for (std::size_t i = 0; i < slots.size(); ++i) {
                out[slots[i]] = lines ? std::move((*lines)[i]) : unavailable();
            }
            slots.clear();
            shared = std::make_shared<std::vector<ControlRequest>>();
        };
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (auto answer = off_loop_answer(engine, requests[i])) {
                run_on_loop();  // what came before is answered first
                out[i] = std::move(*answer);
                continue;
            }
            slots.push_back(i);
            shared->push_back(std::move(requests[i]));
        }
        run_on_loop();
        return out;
    };
}

std::unique_ptr<Broker> make_broker(const SidecarConfig& config, RoomRegistry& registry,
                                    SidecarMetrics& metrics, WsServer& server) {
    if (!config.broker.redis()) {
        auto broker = std::make_unique<MemoryBroker>(server, registry);
        (void)broker->start({});
        return broker;
    }
    RedisBrokerConfig redis{config.broker,         config.broker_password,  config.history.max_messages,
                            config.broker_dedupe_ttl_s, config.broker_room_ttl_s, config.node_id,
                            2000, 6000};
    auto broker = std::make_unique<RedisBroker>(std::move(redis), metrics,
                                                [&server](std::function<void()> task) {
                                                    server.post(std::move(task));
                                                });
    Broker* shared = broker.get();
    registry.set_fetcher([shared](const std::string& room, std::optional<uint64_t> after) {
        shared->fetch(room, after);
    });
    BrokerListener listener{
        [&registry, &server](BrokerMessage message) {
            server.wake(registry.apply_message(message, now_ms()));
        },
        [&registry, &server](RoomSnapshot snapshot) {
            server.wake(registry.apply_snapshot(snapshot, now_ms()));
        },
        [&registry] { registry.resubscribed(); },
        [&registry, &server](const std::string& room, bool load, const Error& error) {
            server.wake(registry.fetch_failed(room, load, error));
        }};
    (void)broker->start(std::move(listener));
    log_info("broker").kv("broker", config.broker.describe()).kv("node", config.node_id);
    return broker;
}

}  // namespace

int run(LoadedConfig& start, Reloader::Loader load_again) {
    SidecarConfig& config = start.config;
    // Signals are taken by one thread with sigwait, never by a handler in the middle of lws.
    sigset_t signals = handled_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    SidecarMetrics metrics;
    RoomRegistry registry(RegistryLimits{config.max_queue_bytes, config.max_rooms_per_connection,
                                         config.history, config.broker.redis()},
                          metrics);
    WsServer server(config, registry, metrics);
    if (auto started = server.start(); !started) {
        log_error("start_failed").kv("code", started.error().code).kv("error", started.error().message);
        return 1;
    }
    std::unique_ptr<Broker> broker = make_broker(config, registry, metrics, server);
    Reloader reloader(config, std::move(start.values), std::move(load_again), server);
    Engine engine{config,  reloader, registry, metrics, server,
                  *broker, ControlContext{registry, metrics, now_ms()}};
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
    // feed the watchdog: the ping comes from the loop itself, so a stuck loop is noticed. With a
    // shared broker the loop also reports this node's members for the cluster view.
    bool expiring = false;  // loop thread only: a round of expiry is under way
    std::thread housekeeper([&] {
        timespec tick{0, 100 * 1000 * 1000};
        auto next_second = std::chrono::steady_clock::now();
        while (!server.finished()) {
            if (std::chrono::steady_clock::now() >= next_second) {
                server.post([&registry, &broker, &config, &server, &expiring, watchdog] {
                    if (!expiring) expire_step(server, registry, expiring);
                    server.refuse_oversized_frames();
                    if (broker->shared()) broker->report_members(members_report(config.node_id, registry));
                    if (watchdog) sd_notify(0, "WATCHDOG=1");
                });
                next_second += std::chrono::seconds(1);
            }
            int signal_number = sigtimedwait(&signals, nullptr, &tick);
            if (signal_number <= 0) continue;
            log_info("signal").kv("signal", signal_number);
            if (signal_number == SIGHUP) {
                (void)reload(reloader);  // a failure is logged; the running configuration stays
                continue;
            }
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
    broker->stop();
    log_info("stopped");
    return 0;
}

}  // namespace rp::sidecar

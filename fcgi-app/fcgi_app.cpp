#include "fcgi_app.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fcgi_server.h"
#include "http_router.h"
#include "job_dispatch.h"
#include "job_queue.h"
#include "job_recovery.h"
#include "job_runner.h"
#include "job_store.h"
#include "job_sweeper.h"
#include "job_waiters.h"
#include "push_sender.h"
#include "room_token_minter.h"
#include "roompush/log.h"
#include "roompush/unix_socket.h"
#include "upload_handler.h"
#include "work_feeder.h"

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
    auto fd = listen_unix(config.listen, config.socket_access, 128);
    if (fd) log_info("fcgi_listening").kv("socket", config.listen);
    return fd;
}

int wait_for_signal(const sigset_t& signals) {
    int signal_number = 0;
    while (sigwait(&signals, &signal_number) != 0) {
    }
    return signal_number;
}

// What a reload applies: the token secret (key rotation rewrites the file in place, so it is
// read again whether or not its name changed) and the log level.
void reload(OptionValues& running, const ConfigLoader& load_again, RoomTokenMinter& tokens) {
    auto loaded = load_again();
    if (!loaded) {
        log_error("reload_failed")
            .kv("code", loaded.error().code)
            .kv("error", loaded.error().message);
        return;
    }
    OptionChanges changes =
        changed_options(running, loaded->values, {"auth-secret-file", "log-level"});
    tokens.set_secret(loaded->config.auth_secret);
    set_log_level(loaded->log_level);
    for (const std::string& option : changes.applied) running[option] = loaded->values[option];
    log_reloaded(changes);
}

void log_start_failure(const Error& error) {
    log_error("start_failed").kv("code", error.code).kv("error", error.message);
}

// A shared spool holds every node's jobs: Redis must answer at start to tell this node's from
// the others' (ten tries, a second apart), and it is alive from then on.
Status reach_job_store(SharedJobs& shared) {
    auto said = shared.say_alive();
    for (int attempt = 1; !said && attempt < 10; ++attempt) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        said = shared.say_alive();
    }
    if (said) return ok_status();
    return make_error("job_store_unavailable",
                      "a node of a shared spool needs its Redis at start to tell its jobs from "
                      "the others': " +
                          said.error().message);
}

// A shared spool: only the records of the jobs this node still holds are restored; another
// node may have run one of them again since.
Status keep_own_records(SharedJobs& shared, std::map<std::string, std::string>& records) {
    std::vector<std::string> ids;
    for (const auto& [id, json] : records) ids.push_back(id);
    auto places = shared.places(ids);
    if (!places) return places.error();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if ((*places)[i].holder != shared.node()) records.erase(ids[i]);
    }
    return ok_status();
}

// SIGTERM, in order: answer every ?wait now (202), finish the requests in hand, start no
// queued job (they stay queued in the spool), give running programs stop_grace to finish, then
// interrupt the rest (job.failed "interrupted", or left for a re-run), and give the outbox a
// moment to drain; whatever it still holds is sent after the next start.
void shut_down(const AppConfig& config, JobWaiters& waiters, FcgiServer& server, JobQueue& queue,
               std::atomic<bool>& interrupt, JobSweeper& sweeper, PushSender& pushes,
               SharedJobs* shared, WorkFeeder* feeder) {
    waiters.release_all();
    if (feeder) feeder->stop();  // what it took and did not start goes back with the node
    server.stop();
    queue.stop_taking();
    if (!queue.wait_idle(std::chrono::milliseconds(config.stop_grace_ms))) {
        log_warn("interrupting_jobs")
            .kv("running", queue.running())
            .kv("grace_ms", config.stop_grace_ms);
        interrupt = true;
    }
    queue.join();
    if (shared) shared->stop();  // the leases of the jobs that ran were given up by their ends
    sweeper.stop();
    pushes.stop(std::chrono::seconds(2));
}

}  // namespace

int run(LoadedAppConfig& start, ConfigLoader load_again) {
    const AppConfig& config = start.config;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    JobStore store(config.spool_dir, config.shared_spool ? config.shared.node : "");
    if (auto prepared = store.prepare(); !prepared) {
        log_start_failure(prepared.error());
        return 1;
    }
    PushSender pushes(config.control_socket, store.outbox_dir(), config.outbox_limit);
    if (auto opened = pushes.open(); !opened) {
        log_start_failure(opened.error());
        return 1;
    }
    std::optional<SharedJobs> shared;
    if (config.shared_jobs) shared.emplace(config.shared);
    // Before the recovery reads job.json: a crash may have cut the copies written unsynced.
    auto records = pushes.take_job_records();
    if (config.shared_spool) {
        auto kept = reach_job_store(*shared);
        if (kept) kept = keep_own_records(*shared, records);
        if (!kept) {
            log_start_failure(kept.error());
            return 1;
        }
    }
    std::size_t replayed = store.restore_from(records);
    if (replayed > 0) log_info("job_records_replayed").kv("jobs", replayed);
    store.use_journal(&pushes);
    if (shared) store.share_with(&*shared);
    auto listener = open_listener(config);
    if (!listener) {
        log_start_failure(listener.error());
        return 1;
    }
    pushes.start();
    std::atomic<bool> interrupt{false};
    JobWaiters waiters;
    JobRunner runner(config, store, pushes, waiters, interrupt);
    JobQueue queue(
        config.queue, config.workers, [&](const std::string& id) { runner.run(id); },
        config.room_limits);
    runner.set_retry_later([&queue](const QueuedJob& job, std::chrono::milliseconds delay) {
        queue.push_later(job, std::chrono::steady_clock::now() + delay);
    });
    std::optional<WorkFeeder> feeder;
    if (config.shared_spool) {
        if (auto recovered = recover_shared_jobs(store, runner, *shared); !recovered) {
            log_start_failure(recovered.error());
            return 1;
        }
        feeder.emplace(
            config.shared,
            WorkFeeder::Hooks{[&queue, &config] {
                                  // Not the retries waiting for their time: they hold
                                  // no worker meanwhile.
                                  std::size_t busy = queue.running() + queue.ready();
                                  return busy < config.workers ? config.workers - busy : 0;
                              },
                              [&queue](const QueuedJob& job) { queue.push_recovered(job); }});
    } else {
        recover_jobs(config, store, runner, queue);
    }
    queue.start();
    JobSweeper sweeper(store, std::chrono::seconds(config.keep_s));
    sweeper.start();
    RoomTokenMinter tokens(config.auth_secret, config.token_ttl_s);
    JobDispatch dispatch(config, queue, pushes, shared ? &*shared : nullptr);
    UploadHandler uploads(config, store, dispatch, pushes, waiters, tokens);
    PushHandler http_pushes(config, pushes);
    JobCanceller cancels(config, store, queue, runner, waiters);
    JobRetrier retries(store, dispatch);
    std::optional<JobsElsewhere> elsewhere;
    if (shared) {
        elsewhere.emplace(config, *shared);
        cancels.reach_other_nodes(&*elsewhere);
        retries.reach_other_nodes(&*elsewhere);
        shared->start({[&runner](const Job& job) { return runner.announce_taken_over(job); },
                       [&runner](Job job, const std::optional<std::string>& theirs) {
                           runner.settle_end(std::move(job), theirs);
                       },
                       [&cancels, &retries](const std::string& what, const std::string& id) {
                           (void)(what == "cancel" ? cancels.cancel(id) : retries.retry(id));
                       }});
        log_info("job_store_shared")
            .kv("redis", config.shared.store.describe())
            .kv("node", shared->node())
            .kv("lease_ms", config.shared.lease_ms)
            .kv("shared_spool", config.shared_spool);
        if (feeder) {
            // Before it takes anything: no other node may see this one dead meanwhile.
            if (auto said = shared->say_alive(); !said) {
                log_warn("node_not_announced").kv("error", said.error().message);
            }
            feeder->start();
        }
    }
    HttpRouter router(config, store, uploads, http_pushes, pushes, queue, cancels, &retries,
                      &runner.figures());
    FcgiServer server(listener->get(), config.threads,
                      [&](HttpRequest& request) { return router.route(request); });
    if (auto started = server.start(); !started) {
        log_start_failure(started.error());
        if (feeder) feeder->stop();
        if (shared) shared->stop();  // its thread calls into the runner, gone on return
        return 1;
    }
    log_info("ready").kv("spool", config.spool_dir).kv("sidecar", config.control_socket);

    int signal_number = 0;
    while ((signal_number = wait_for_signal(signals)) == SIGHUP) {
        log_info("signal").kv("signal", signal_number);
        reload(start.values, load_again, tokens);
    }
    log_info("signal").kv("signal", signal_number);
    shut_down(config, waiters, server, queue, interrupt, sweeper, pushes,
              shared ? &*shared : nullptr, feeder ? &*feeder : nullptr);
    if (!socket_from_systemd()) ::unlink(config.listen.c_str());
    log_info("stopped");
    return 0;
}

}  // namespace rp::app

#include "housekeeper.h"

#include <pthread.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <thread>

#include "cluster_view.h"
#include "roompush/log.h"
#include "roompush/wall_clock.h"

namespace rp::sidecar {
namespace {

// One step of history expiry on the loop: ~1 ms at most (freeing 100,000 expired messages at
// once took 37 ms, a stall every client of the sidecar would have felt).
constexpr RoomRegistry::ExpiryBudget kExpiryStep{4096, 2000};

}  // namespace

sigset_t Housekeeper::block_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return set;
}

Housekeeper::Housekeeper(WsServer& server, RoomRegistry& registry, Broker& broker,
                         std::string node_id)
    : server_(server), registry_(registry), broker_(broker), node_id_(std::move(node_id)) {
    uint64_t watchdog_usec = 0;
    watchdog_ = sd_watchdog_enabled(0, &watchdog_usec) > 0;
}

void Housekeeper::run(const sigset_t& signals, std::function<void()> reload,
                      std::function<void()> stop_control) {
    timespec tick{0, 100 * 1000 * 1000};
    auto next_second = std::chrono::steady_clock::now();
    while (!server_.finished()) {
        if (std::chrono::steady_clock::now() >= next_second) {
            server_.post([this] { every_second(); });
            next_second += std::chrono::seconds(1);
        }
        int signal_number = sigtimedwait(&signals, nullptr, &tick);
        if (signal_number <= 0) continue;
        log_info("signal").kv("signal", signal_number);
        if (signal_number == SIGHUP) {
            reload();  // a failure is logged; the running configuration stays
            continue;
        }
        stop(stop_control);
    }
}

void Housekeeper::every_second() {
    if (!expiring_) expire_step();
    server_.every_second();
    if (broker_.shared()) {
        broker_.report_members(members_report(node_id_, registry_, server_.room_presence()));
    }
    if (watchdog_) sd_notify(0, "WATCHDOG=1");
}

// A round of expiry that one step did not finish goes on in the loop's next turn, after whatever
// I/O is waiting: expiry takes the loop's spare time, never a long stretch of it. One round at a
// time: the once-a-second start does nothing while a round is still going.
void Housekeeper::expire_step() {
    expiring_ = !registry_.expire(now_ms(), kExpiryStep);
    if (expiring_) server_.post([this] { expire_step(); });
}

void Housekeeper::stop(const std::function<void()>& stop_control) {
    sd_notify(0, "STOPPING=1");
    stop_control();
    while (!server_.finished()) {  // keep the loop awake while clients get their 1001
        server_.request_stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace rp::sidecar

#pragma once
// Sends job events to the sidecar's control socket through the outbox (outbox.h): a push that
// must be delivered is on disk before push() returns (pushes of several jobs at the same moment
// share one fdatasync) and leaves the disk only when the sidecar has acked it; a best-effort
// push (progress) is kept in memory only. One thread sends, oldest first, up to 64 at a time on
// one connection (pipelined, answered in order), retrying with backoff while the sidecar is
// away. Callers never wait on the sidecar.
//
// The outbox is bounded by `limit`. Past it: best-effort pushes (progress) are dropped, new work
// is refused by the callers (full() -> 503), and a loud log line and /healthz say so. Pushes that
// must not be lost (a job's queued/started/done/failed) are still journaled: each admitted job
// adds at most a few, so the overshoot is bounded by the job queue and the workers.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "job_store.h"
#include "outbox.h"
#include "roompush/control_client.h"
#include "roompush/control_codec.h"
#include "roompush/json.h"

namespace rp::app {

// must_deliver: journaled and synced before push() returns (a job's final event, POST /push).
// deliver_with_next: journaled, synced by the next synced push or sooner; push() does not wait
//   (job.queued, job.started: the final event's sync covers them, and if the machine goes down
//   first, the recovery reports the job from its record).
// best_effort: in memory only, dropped when the outbox is full (job.progress).
enum class PushKind { must_deliver, deliver_with_next, best_effort };

struct PushStats {
    std::size_t pending = 0;  // in the outbox
    std::size_t limit = 0;
    bool full = false;
    uint64_t sent = 0;     // acked by the sidecar
    uint64_t refused = 0;  // the sidecar said no (a bad request): dropped, logged
    uint64_t dropped = 0;  // best effort, outbox full
    uint64_t failed = 0;   // could not be written to the outbox (disk error)
    uint64_t retries = 0;  // sends that found the sidecar away
};

// Also the journal of the jobs' records (JobJournal): they share the outbox's fdatasyncs.
class PushSender : public JobJournal {
public:
    PushSender(std::string control_socket, std::string outbox_dir, std::size_t limit);
    ~PushSender() override;

    // Loads what an earlier run left in the outbox; it is sent first, in its order.
    Status open();
    void start();
    // Journals a publish; false (and a log line) when it was dropped or could not be written.
    bool push(const std::string& room, std::string_view event, const cJSON* data,
              const std::string& id, PushKind kind = PushKind::must_deliver);

    // What a caller that waits for its push learns (POST /push/ROOM answers with it).
    struct Delivery {
        bool journaled = false;         // false: it could not be written (nothing was sent)
        std::optional<PublishAck> ack;  // the sidecar's ack, if it came within the wait
        bool refused = false;           // the sidecar said no (and it was dropped)
    };
    // Journals a publish like push(), then waits up to `wait` for the sender to have it acked.
    // The sender is the only one that sends it: once, in the outbox's order. Not acked in time,
    // it stays in the outbox and goes out when the sidecar takes it.
    Delivery push_and_wait(const std::string& room, std::string_view event, const cJSON* data,
                           const std::string& id, std::chrono::milliseconds wait);
    // Gives the outbox up to `flush_for` to drain, then stops; what is left stays on disk for
    // the next start.
    void stop(std::chrono::milliseconds flush_for);

    Result<uint64_t> write_job_record(const std::string& id, std::string_view json) override;
    void job_copy_written(bool written) override;
    Status make_durable(uint64_t record) override;
    // The jobs' newest records as the journal held them at open() (JobStore::restore_from).
    std::map<std::string, std::string> take_job_records();

    bool full() const;
    PushStats stats() const;
    // The pushes waiting to be sent, oldest first (on disk or, best effort, in memory).
    std::vector<std::string> waiting() const;

private:
    // What the sidecar answered a push: its ack, or nullopt when it refused it.
    struct Sent {
        std::optional<PublishAck> ack;
    };

    void run();
    Result<ControlClient*> connected(std::optional<ControlClient>& client);
    std::vector<Sent> send_batch(std::optional<ControlClient>& client,
                                 const std::vector<std::string>& lines);
    bool synced(const std::string& room, std::string_view event, const std::string& id,
                uint64_t record);
    void sync_while_idle(std::unique_lock<std::mutex>& lock);
    void checkpoint_if_due(std::unique_lock<std::mutex>& lock);
    void note_fill_level();  // with mutex_ held
    Result<uint64_t> journal(const std::string& room, std::string_view event, const std::string& id,
                             const std::string& line, bool durable);  // with mutex_ held

    std::string socket_;
    std::size_t limit_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable acked_;  // an entry someone waits for left the outbox
    // Entries a push_and_wait() caller waits for, and, once sent, the sidecar's answer. Only
    // waited-for entries are here, and each caller removes its own.
    std::map<uint64_t, std::optional<Sent>> waited_;
    Outbox outbox_;
    PushStats stats_;
    bool stopping_ = false;
    bool reported_full_ = false;
    std::chrono::steady_clock::time_point give_up_at_{};
    std::thread thread_;
};

}  // namespace rp::app

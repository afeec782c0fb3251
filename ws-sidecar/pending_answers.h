#pragma once
// The answers a control connection still owes for publishes that are in Redis, in request
// order. A connection whose reads are all publishes (on a shared broker) does not wait for one
// read's answers before it reads the next: it keeps many publishes in flight, as the app's
// outbox sends them, and writes each answer once every answer before it is known
// (docs/protocol.md: one response per request line, in order). The broker's thread fills the
// answers; the connection's thread waits on ready_fd() (with the socket) or in wait(), and
// takes them.
//
// Deadlines are on the steady clock (clock_ms()): a wall clock stepped forward must not answer
// `unavailable` for publishes Redis is about to acknowledge.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"

namespace rp::sidecar {

// What a publish that Redis did not answer in time is answered: it may have been published.
ControlResponse publish_timed_out();

class PendingAnswers {
public:
    using Ticket = uint64_t;
    enum class Wakeup { wait_only, eventfd };

    // With Wakeup::eventfd, ready_fd() is an eventfd, or -1 when none could be made (out of
    // descriptors): the connection then does not pipeline.
    explicit PendingAnswers(Wakeup wakeup = Wakeup::wait_only);
    ~PendingAnswers();
    PendingAnswers(const PendingAnswers&) = delete;
    PendingAnswers& operator=(const PendingAnswers&) = delete;

    // Milliseconds on the steady clock, which deadlines are counted in.
    static int64_t clock_ms();

    // Readable once the first answer owed is known; take() reads it empty.
    int ready_fd() const { return ready_fd_; }

    // Connection thread: a place for the answer to the next request, due by `deadline_ms`.
    Ticket expect(int64_t deadline_ms);
    // An answer known already (a line that did not decode, a publish not sent), in its place.
    void add(ControlResponse response);
    // Any thread: the answer to `ticket`. One that came after its deadline is dropped.
    void fill(Ticket ticket, ControlResponse response);

    // Connection thread: the leading answers that are known, in order, into `out`; one still
    // owed past its deadline (at `now_ms`) is answered publish_timed_out().
    void take(std::vector<ControlResponse>& out, int64_t now_ms);
    // Connection thread: until the first answer owed is known or due.
    void wait(int64_t now_ms);

    std::size_t owed() const;
    // When the first answer owed is due; nullopt when none is owed.
    std::optional<int64_t> first_deadline() const;

    // The broker refused a publish at once (Redis away): the publishes after it are not sent
    // but answered with the same error until every answer owed has been taken, so that none of
    // them overtakes it when the caller sends it again. Connection thread.
    void refuse(const Error& error);
    const std::optional<Error>& refused() const { return refused_; }

private:
    struct Slot {
        std::optional<ControlResponse> response;
        int64_t deadline_ms = 0;
    };
    std::optional<int64_t> first_deadline_locked() const;

    mutable std::mutex mutex_;
    std::condition_variable first_known_;
    std::deque<Slot> slots_;
    Ticket first_ = 0;  // the ticket of slots_.front()
    int ready_fd_ = -1;
    std::optional<Error> refused_;  // connection thread only
};

}  // namespace rp::sidecar

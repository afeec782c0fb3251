#pragma once
// The answers a control connection still owes for publishes that are in Redis, in request
// order. A connection whose reads are all publishes (on a shared broker) does not wait for one
// read's answers before it reads the next: it keeps many publishes in flight, as the app's
// outbox sends them, and writes each answer once every answer before it is known
// (docs/protocol.md: one response per request line, in order). The broker's thread fills the
// answers; the connection's thread waits on ready_fd() and takes them.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "roompush/control_codec.h"

namespace rp::sidecar {

// What a publish that Redis did not answer in time is answered: it may have been published.
ControlResponse publish_timed_out();

class PendingAnswers {
public:
    using Ticket = uint64_t;

    PendingAnswers();
    ~PendingAnswers();
    PendingAnswers(const PendingAnswers&) = delete;
    PendingAnswers& operator=(const PendingAnswers&) = delete;

    // Readable (an eventfd) once the first answer owed is known; take() reads it empty.
    int ready_fd() const { return ready_fd_; }

    // Connection thread: a place for the answer to the next request, due by `deadline_ms`.
    Ticket expect(int64_t deadline_ms);
    // An answer known already (a line that did not decode), in its place.
    void add(ControlResponse response);
    // Any thread: the answer to `ticket`. One that came after its deadline is dropped.
    void fill(Ticket ticket, ControlResponse response);

    // Connection thread: the leading answers that are known, in order, into `out`; one still
    // owed past its deadline (at `now_ms`) is answered publish_timed_out().
    void take(std::vector<ControlResponse>& out, int64_t now_ms);

    // Connection thread: until the first answer owed is known or due (now_ms: the time now).
    void wait(int64_t now_ms) const;

    std::size_t owed() const;
    // When the first answer owed is due; nullopt when none is owed.
    std::optional<int64_t> first_deadline() const;

private:
    struct Slot {
        std::optional<ControlResponse> response;
        int64_t deadline_ms = 0;
    };

    mutable std::mutex mutex_;
    std::deque<Slot> slots_;
    Ticket first_ = 0;  // the ticket of slots_.front()
    int ready_fd_ = -1;
};

}  // namespace rp::sidecar

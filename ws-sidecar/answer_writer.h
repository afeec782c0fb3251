#pragma once
// A control connection's answers on their way out, in request order (docs/protocol.md,
// "Answers before frames"). The connection's thread writes them; the loop, which carries out
// publishes on the memory broker, adds and writes the answers of the requests it has just
// carried out itself, without waiting, before it can write any frame those requests queued.
// So a sidecar killed at any instant has either told the publisher or delivered nothing it
// could be asked to deliver again: a publisher with many publishes in flight (the app's outbox)
// resends none that a room already got, though the memory broker forgets idempotency keys with
// its process.
//
// Only one thread uses a writer at a time (the loop while the connection's thread waits for
// it); the lock makes that hand-over explicit.

#include <cstddef>
#include <mutex>
#include <string>

#include "roompush/control_codec.h"

namespace rp::sidecar {

class AnswerWriter {
public:
    explicit AnswerWriter(int fd) : fd_(fd) {}

    void add(const ControlResponse& response);
    // What the socket takes without waiting; the rest waits for write_all().
    void write_now();
    // Everything added so far. False when the peer is gone.
    bool write_all();

private:
    bool write(bool wait);

    std::mutex mutex_;
    int fd_;
    std::string pending_;
    std::size_t written_ = 0;  // of pending_
    bool broken_ = false;
};

}  // namespace rp::sidecar

#pragma once
// Exactly once, in seq order, for one room on one node with a shared broker. Live messages come
// from Redis pub/sub; the room's stream is the truth. A message that does not follow the last one
// delivered (pub/sub lost some while the node resubscribed, or the room is still loading) is not
// delivered: the room is "filled" from the stream instead, which has every message in order.
// Pure logic; the registry does the I/O.

#include <cstdint>

namespace rp::sidecar {

class GapTracker {
public:
    enum class Verdict { deliver, duplicate, gap };

    // A room being loaded: nothing is delivered until loaded().
    GapTracker() = default;

    // The load answered: the stream's head was `head` (its messages are history, not live).
    void loaded(uint64_t head);
    bool is_loaded() const { return loaded_; }

    // A live message. deliver: the caller delivers it now (it is the next one).
    Verdict offer(uint64_t seq);

    // True when a fill should be asked for now (a gap is known and none is in flight); it is
    // then in flight until fill_done().
    bool start_fill();
    // A message read from the stream during a fill, in order. True: deliver it. `lost` grows
    // when the stream no longer had the messages before it (trimmed).
    bool accept(uint64_t seq);
    // The fill answered; `head` is the room's seq when the stream was read.
    void fill_done(uint64_t head);
    // The fill could not be made; the next sign of a gap asks again.
    void fill_failed() { in_flight_ = false; }
    // Pub/sub was resubscribed: messages may have been missed without any sign; check.
    void suspect_gap();

    uint64_t delivered() const { return delivered_; }
    uint64_t lost() const { return lost_; }
    bool fill_in_flight() const { return in_flight_; }

private:
    bool loaded_ = false;
    bool in_flight_ = false;
    bool suspect_ = false;
    uint64_t delivered_ = 0;
    uint64_t highest_seen_ = 0;
    uint64_t lost_ = 0;
};

}  // namespace rp::sidecar

#include "gap_tracker.h"

#include <algorithm>

namespace rp::sidecar {

void GapTracker::loaded(uint64_t head) {
    loaded_ = true;
    delivered_ = std::max(delivered_, head);
}

GapTracker::Verdict GapTracker::offer(uint64_t seq) {
    highest_seen_ = std::max(highest_seen_, seq);
    if (!loaded_) return Verdict::gap;
    if (seq <= delivered_) return Verdict::duplicate;
    if (seq != delivered_ + 1) return Verdict::gap;
    delivered_ = seq;
    return Verdict::deliver;
}

bool GapTracker::start_fill() {
    if (!loaded_ || in_flight_) return false;
    if (highest_seen_ <= delivered_ && !suspect_) return false;
    in_flight_ = true;
    suspect_ = false;
    return true;
}

bool GapTracker::accept(uint64_t seq) {
    if (seq <= delivered_) return false;
    if (seq > delivered_ + 1) lost_ += seq - delivered_ - 1;
    delivered_ = seq;
    return true;
}

void GapTracker::fill_done(uint64_t head) {
    in_flight_ = false;
    // Whatever was at or below the head was in the stream when it was read, or trimmed away.
    if (head > delivered_) {
        lost_ += head - delivered_;
        delivered_ = head;
    }
}

void GapTracker::suspect_gap() { suspect_ = true; }

}  // namespace rp::sidecar

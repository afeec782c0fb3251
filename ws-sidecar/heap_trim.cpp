#include "heap_trim.h"

#include <algorithm>

namespace rp::sidecar {

HeapTrim::HeapTrim(Clock::time_point start, Trim trim) : trim_(trim), last_(start) {}

bool HeapTrim::after_turn(std::size_t sessions, Clock::time_point now) {
    peak_ = std::max(peak_, sessions);
    bool many_closed =
        peak_ >= kManySessions && sessions <= peak_ / 2 && now - last_ >= kAfterCloses;
    if (!many_closed && now - last_ < kAtMost) return false;
    trim_();
    peak_ = sessions;
    last_ = now;
    return true;
}

}  // namespace rp::sidecar

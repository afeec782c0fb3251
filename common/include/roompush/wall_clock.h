#pragma once
// The wall clock, in milliseconds or seconds since the Unix epoch: what messages' `ts`, jobs'
// timestamps, members' `since`, history expiry and room tokens' `exp` are measured in.

#include <chrono>
#include <cstdint>

namespace rp {

inline int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline int64_t now_s() { return now_ms() / 1000; }

}  // namespace rp

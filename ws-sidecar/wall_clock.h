#pragma once
// The wall clock in milliseconds since the Unix epoch: what messages' `ts`, members' `since` and
// history expiry are measured in.

#include <chrono>
#include <cstdint>

namespace rp::sidecar {

inline int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace rp::sidecar

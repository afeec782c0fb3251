#pragma once
// Handing freed heap back to the kernel between turns of the loop. Once many connections have
// gone (or retained history has expired), the heap they used is mostly free but still mapped:
// trimming returns it (release_free_memory, allocator.h), so that memory comes back after a load.
// Soon after many closes, and otherwise every 15 s at most.

#include <chrono>
#include <cstddef>

namespace rp::sidecar {

class HeapTrim {
public:
    using Clock = std::chrono::steady_clock;
    using Trim = void (*)();
    static constexpr std::size_t kManySessions = 256;  // a peak worth trimming after half closed
    static constexpr auto kAfterCloses = std::chrono::seconds(2);
    static constexpr auto kAtMost = std::chrono::seconds(15);

    // `trim` gives the heap back: the sidecar's is release_free_memory (allocator.h).
    HeapTrim(Clock::time_point start, Trim trim);

    // After a turn of the loop with `sessions` open; true when it trimmed.
    bool after_turn(std::size_t sessions, Clock::time_point now);

private:
    Trim trim_;
    std::size_t peak_ = 0;
    Clock::time_point last_;
};

}  // namespace rp::sidecar

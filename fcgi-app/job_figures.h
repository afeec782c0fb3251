#pragma once
// What the jobs came to since the app started, for /metrics/app: how many ended each way, how
// many retries, and how long programs ran (a histogram in seconds). Any thread may count.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace rp::app {

class JobFigures {
public:
    static constexpr std::array<double, 10> kRunSecondsBounds = {0.1, 0.5, 1,  2,   5,
                                                                 10,  30,  60, 300, 1800};

    void ended(const char* how);  // "done", "failed", "cancelled"
    void retried() { retried_++; }
    void ran(int64_t milliseconds);

    void render(std::string& out) const;

private:
    std::atomic<uint64_t> done_{0};
    std::atomic<uint64_t> failed_{0};
    std::atomic<uint64_t> cancelled_{0};
    std::atomic<uint64_t> retried_{0};
    std::array<std::atomic<uint64_t>, kRunSecondsBounds.size() + 1> run_counts_{};
    std::atomic<uint64_t> run_ms_sum_{0};
};

}  // namespace rp::app

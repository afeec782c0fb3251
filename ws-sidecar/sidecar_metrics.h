#pragma once
// Counters of what the sidecar did, readable from any thread, and the Prometheus text of them.

#include <atomic>
#include <cstdint>
#include <string>

namespace rp::sidecar {

struct SidecarMetrics {
    std::atomic<uint64_t> connections_opened{0};
    std::atomic<uint64_t> published{0};
    std::atomic<uint64_t> duplicates{0};
    std::atomic<uint64_t> delivered{0};      // frames queued for a member
    std::atomic<uint64_t> dropped{0};        // frames not queued (member closing or over limit)
    std::atomic<uint64_t> replayed{0};       // frames sent from history on resume
    std::atomic<uint64_t> resets{0};
    std::atomic<uint64_t> slow_consumer_closes{0};
    std::atomic<uint64_t> ping_timeouts{0};
    std::atomic<uint64_t> ws_refused{0};     // connections closed for a protocol or policy error
    std::atomic<uint64_t> control_requests{0};
    std::atomic<uint64_t> control_errors{0};
    // The broker (docs/scaling.md). broker_up: 1 while it can publish (always, for memory).
    std::atomic<uint64_t> broker_up{1};
    std::atomic<uint64_t> broker_reconnects{0};     // connections to Redis made again
    std::atomic<uint64_t> broker_errors{0};         // Redis commands or connections that failed
    std::atomic<uint64_t> broker_unavailable{0};    // publishes refused while Redis was away
    std::atomic<uint64_t> broker_gap_fills{0};      // rooms caught up from the stream
    std::atomic<uint64_t> broker_lost{0};           // messages the stream no longer had
    std::atomic<uint64_t> broker_bad_messages{0};   // what Redis sent that did not parse
};

// Values measured at scrape time on the loop thread.
struct SidecarGauges {
    uint64_t connections = 0;
    uint64_t rooms = 0;
    uint64_t members = 0;
    uint64_t bytes_queued = 0;
    uint64_t retained_messages = 0;
    uint64_t retained_bytes = 0;
};

std::string render_prometheus(const SidecarMetrics& metrics, const SidecarGauges& gauges);

}  // namespace rp::sidecar

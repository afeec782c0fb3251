#pragma once
// Counters of what the sidecar did, readable from any thread, and the one table of every figure
// (kMetrics) behind its three forms: the Prometheus text of /metrics, the `stats` answer of the
// control socket, and the table in docs/protocol.md (a test fails when the docs differ).

#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>

#include "roompush/prometheus.h"

namespace rp::sidecar {

// One Redis of a shared broker: each shard, or the one Redis (or Sentinel group) of an unsharded
// one. Shown per shard in /metrics and `stats` (docs/scaling.md).
struct BrokerShardMetrics {
    explicit BrokerShardMetrics(std::string where) : url(std::move(where)) {}
    const std::string url;  // as BrokerUrl::describe() says it
    std::atomic<uint64_t> up{0};
    std::atomic<uint64_t> published{0};
    std::atomic<uint64_t> received{0};  // pub/sub messages heard (the rooms of this node only)
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> unavailable{0};
    std::atomic<uint64_t> failovers{0};  // connections that found another master than before
};

struct SidecarMetrics {
    std::atomic<uint64_t> connections_opened{0};
    std::atomic<uint64_t> published{0};
    std::atomic<uint64_t> duplicates{0};
    std::atomic<uint64_t> delivered{0};  // frames queued for a member
    std::atomic<uint64_t> dropped{0};    // frames not queued (member closing or over limit)
    std::atomic<uint64_t> replayed{0};   // frames sent from history on resume
    std::atomic<uint64_t> resets{0};
    std::atomic<uint64_t> slow_consumer_closes{0};
    std::atomic<uint64_t> ping_timeouts{0};
    std::atomic<uint64_t> ws_refused{0};  // connections closed for a protocol or policy error
    std::atomic<uint64_t> ws_deflate_opened{0};       // connections with permessage-deflate
    std::atomic<uint64_t> ws_deflated{0};             // messages compressed for them, once each
    std::atomic<uint64_t> sse_opened{0};              // event streams (GET /sse) begun
    std::atomic<uint64_t> client_published{0};        // messages from browsers acked
    std::atomic<uint64_t> client_publish_refused{0};  // refused (rights, name, size, rate, broker)
    std::atomic<uint64_t> control_requests{0};
    std::atomic<uint64_t> control_errors{0};
    // The broker (docs/scaling.md). broker_up: 1 while it can publish (always, for memory).
    std::atomic<uint64_t> broker_up{1};
    std::atomic<uint64_t> broker_reconnects{0};    // connections to Redis made again
    std::atomic<uint64_t> broker_errors{0};        // Redis commands or connections that failed
    std::atomic<uint64_t> broker_unavailable{0};   // publishes refused while Redis was away
    std::atomic<uint64_t> broker_gap_fills{0};     // rooms caught up from the stream
    std::atomic<uint64_t> broker_lost{0};          // messages the stream no longer had
    std::atomic<uint64_t> broker_bad_messages{0};  // what Redis sent that did not parse
    std::atomic<uint64_t> broker_received{0};      // pub/sub messages heard (rooms here only)
    // Filled once, before any thread reads it, when a Redis broker is made (a deque: the broker
    // keeps references).
    std::deque<BrokerShardMetrics> broker_shards;
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

// One figure. Its value comes from a counter, or a gauge measured when asked, or (neither) the
// seconds since the sidecar started.
struct MetricSpec {
    std::string_view stats_key;   // in the `stats` answer
    std::string_view prometheus;  // in /metrics, after "roompush_"; empty: `stats` only
    MetricType type;
    std::string_view help;
    std::atomic<uint64_t> SidecarMetrics::*counter = nullptr;
    uint64_t SidecarGauges::*gauge = nullptr;
};

// Every figure, in the order of both answers.
std::span<const MetricSpec> metric_specs();

// Everything a figure can come from, at one moment.
struct MetricValues {
    const SidecarMetrics& counters;
    SidecarGauges gauges;
    uint64_t uptime_s = 0;

    uint64_t of(const MetricSpec& spec) const;
};

std::string render_prometheus(const SidecarMetrics& metrics, const SidecarGauges& gauges);
// {"ok":true,"uptime_s":…,"connections":…,…}: the `stats` answer.
std::string encode_stats_response(const MetricValues& values);
// The Markdown table of every figure that docs/protocol.md holds between kMetricsDocBegin and
// kMetricsDocEnd.
std::string render_metrics_doc();
inline constexpr std::string_view kMetricsDocBegin =
    "<!-- metrics: generated from ws-sidecar/sidecar_metrics.cpp, checked by its test -->";
inline constexpr std::string_view kMetricsDocEnd = "<!-- end of metrics -->";

}  // namespace rp::sidecar

#include "sidecar_metrics.h"

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

using M = SidecarMetrics;
using G = SidecarGauges;
constexpr MetricType gauge = MetricType::gauge;
constexpr MetricType counter = MetricType::counter;

// The one list of figures. A new one goes here, and into docs/protocol.md as the test prints it.
constexpr MetricSpec kMetrics[] = {
    {"uptime_s", "", gauge, "Seconds since the sidecar started."},
    {"connections", "connections", gauge, "Open WebSocket connections.", nullptr, &G::connections},
    {"rooms", "rooms", gauge, "Rooms with members or retained messages.", nullptr, &G::rooms},
    {"members", "members", gauge, "Room memberships of WebSocket connections.", nullptr,
     &G::members},
    {"bytes_queued", "bytes_queued", gauge, "Bytes waiting in send queues.", nullptr,
     &G::bytes_queued},
    {"retained_messages", "retained_messages", gauge, "Messages kept in room histories.", nullptr,
     &G::retained_messages},
    {"retained_bytes", "retained_bytes", gauge, "Bytes kept in room histories.", nullptr,
     &G::retained_bytes},
    {"connections_opened", "connections_opened_total", counter, "WebSocket connections accepted.",
     &M::connections_opened},
    {"published", "messages_published_total", counter, "Messages published to rooms.",
     &M::published},
    {"duplicates", "messages_duplicate_total", counter,
     "Publishes acked without delivery because their id was seen.", &M::duplicates},
    {"delivered", "messages_delivered_total", counter, "Message frames queued for a member.",
     &M::delivered},
    {"dropped", "messages_dropped_total", counter, "Message frames not queued for a member.",
     &M::dropped},
    {"replayed", "messages_replayed_total", counter, "Frames sent from history on resume.",
     &M::replayed},
    {"resets", "resets_total", counter, "Resumes that could not be complete.", &M::resets},
    {"slow_consumer_closes", "slow_consumer_closes_total", counter,
     "Connections closed with 1013 for falling behind.", &M::slow_consumer_closes},
    {"ping_timeouts", "ping_timeouts_total", counter, "Connections closed for not answering pings.",
     &M::ping_timeouts},
    {"ws_refused", "ws_refused_total", counter,
     "Connections closed for a protocol or policy error.", &M::ws_refused},
    {"sse_opened", "sse_streams_opened_total", counter,
     "Server-sent event streams (GET /sse) begun; also counted in connections_opened.",
     &M::sse_opened},
    {"client_published", "client_messages_published_total", counter,
     "Messages from browsers (the WebSocket publish command) published.", &M::client_published},
    {"client_publish_refused", "client_messages_refused_total", counter,
     "Messages from browsers refused: no right, a server event name, too large, over the rate, "
     "or the broker unavailable.",
     &M::client_publish_refused},
    {"control_requests", "control_requests_total", counter, "Control socket requests.",
     &M::control_requests},
    {"control_errors", "control_errors_total", counter,
     "Control socket requests answered with an error.", &M::control_errors},
    {"broker_up", "broker_up", gauge,
     "1 while the broker can take publishes, 0 while Redis is away.", &M::broker_up},
    {"broker_reconnects", "broker_reconnects_total", counter, "Connections to Redis made again.",
     &M::broker_reconnects},
    {"broker_errors", "broker_errors_total", counter, "Redis connections or commands that failed.",
     &M::broker_errors},
    {"broker_unavailable", "broker_unavailable_total", counter,
     "Publishes refused because Redis was unreachable.", &M::broker_unavailable},
    {"broker_gap_fills", "broker_gap_fills_total", counter,
     "Rooms caught up from their Redis stream.", &M::broker_gap_fills},
    {"broker_lost", "broker_lost_total", counter,
     "Messages a room missed because its stream no longer had them.", &M::broker_lost},
    {"broker_bad_messages", "broker_bad_messages_total", counter,
     "Messages from Redis that did not parse.", &M::broker_bad_messages},
};

const char* type_name(MetricType type) { return type == gauge ? "gauge" : "counter"; }

}  // namespace

std::span<const MetricSpec> metric_specs() { return kMetrics; }

uint64_t MetricValues::of(const MetricSpec& spec) const {
    if (spec.counter != nullptr) return (counters.*spec.counter).load();
    if (spec.gauge != nullptr) return gauges.*spec.gauge;
    return uptime_s;
}

std::string render_prometheus(const SidecarMetrics& metrics, const SidecarGauges& gauges) {
    MetricValues values{metrics, gauges};
    std::string out;
    out.reserve(4096);
    for (const MetricSpec& spec : kMetrics) {
        if (spec.prometheus.empty()) continue;
        append_metric(out, "roompush_" + std::string(spec.prometheus), spec.type, spec.help,
                      values.of(spec));
    }
    return out;
}

std::string encode_stats_response(const MetricValues& values) {
    JsonPtr out = make_object();
    set_bool(out.get(), "ok", true);
    for (const MetricSpec& spec : kMetrics) {
        set_number(out.get(), std::string(spec.stats_key).c_str(),
                   static_cast<double>(values.of(spec)));
    }
    return to_json(out.get());
}

std::string render_metrics_doc() {
    std::string out =
        "| `stats` key | `/metrics` name | type | meaning |\n| --- | --- | --- | --- |\n";
    for (const MetricSpec& spec : kMetrics) {
        std::string name = spec.prometheus.empty()
                               ? std::string("(`stats` only)")
                               : "`roompush_" + std::string(spec.prometheus) + "`";
        out.append("| `").append(spec.stats_key).append("` | ").append(name).append(" | ");
        out.append(type_name(spec.type)).append(" | ").append(spec.help).append(" |\n");
    }
    return out;
}

}  // namespace rp::sidecar

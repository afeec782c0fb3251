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
    {"ws_deflate_opened", "ws_deflate_connections_opened_total", counter,
     "WebSocket connections that negotiated permessage-deflate (--ws-deflate).",
     &M::ws_deflate_opened},
    {"ws_deflated", "ws_messages_deflated_total", counter,
     "Messages compressed for permessage-deflate members: once each, however many get it.",
     &M::ws_deflated},
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
    {"broker_received", "broker_messages_received_total", counter,
     "Pub/sub messages heard from Redis: those of rooms with members on this node.",
     &M::broker_received},
};

const char* type_name(MetricType type) { return type == gauge ? "gauge" : "counter"; }

}  // namespace

std::span<const MetricSpec> metric_specs() { return kMetrics; }

uint64_t MetricValues::of(const MetricSpec& spec) const {
    if (spec.counter != nullptr) return (counters.*spec.counter).load();
    if (spec.gauge != nullptr) return gauges.*spec.gauge;
    return uptime_s;
}

namespace {

// The per-shard figures: one family each, a sample per shard labelled with its index and URL.
struct ShardSpec {
    std::string_view key;         // in `stats`' broker_shards entries
    std::string_view prometheus;  // after "roompush_broker_shard_"
    MetricType type;
    std::string_view help;
    std::atomic<uint64_t> BrokerShardMetrics::*value;
};
using S = BrokerShardMetrics;
constexpr ShardSpec kShardMetrics[] = {
    {"up", "up", gauge, "1 while this Redis (shard) can take publishes.", &S::up},
    {"published", "published_total", counter, "Messages published to this shard.", &S::published},
    {"received", "received_total", counter,
     "Pub/sub messages heard from this shard (rooms with members on this node).", &S::received},
    {"errors", "errors_total", counter, "Connections or commands to this shard that failed.",
     &S::errors},
    {"unavailable", "unavailable_total", counter,
     "Publishes refused because this shard was unreachable.", &S::unavailable},
    {"failovers", "failovers_total", counter,
     "Connections that found a new master (Sentinel failovers followed).", &S::failovers},
};

std::string escape_label(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') out += '\\';
        out += c;
    }
    return out;
}

void append_shards(std::string& out, const std::deque<BrokerShardMetrics>& shards) {
    if (shards.empty()) return;
    for (const ShardSpec& spec : kShardMetrics) {
        std::string name = "roompush_broker_shard_" + std::string(spec.prometheus);
        out.append("# HELP ").append(name).append(" ").append(spec.help).append("\n");
        out.append("# TYPE ").append(name).append(" ").append(type_name(spec.type)).append("\n");
        for (std::size_t i = 0; i < shards.size(); ++i) {
            out.append(name)
                .append("{shard=\"")
                .append(std::to_string(i))
                .append("\",url=\"")
                .append(escape_label(shards[i].url))
                .append("\"} ")
                .append(std::to_string((shards[i].*spec.value).load()))
                .append("\n");
        }
    }
}

}  // namespace

std::string render_prometheus(const SidecarMetrics& metrics, const SidecarGauges& gauges) {
    MetricValues values{metrics, gauges};
    std::string out;
    out.reserve(4096);
    for (const MetricSpec& spec : kMetrics) {
        if (spec.prometheus.empty()) continue;
        append_metric(out, "roompush_" + std::string(spec.prometheus), spec.type, spec.help,
                      values.of(spec));
    }
    append_shards(out, metrics.broker_shards);
    return out;
}

std::string encode_stats_response(const MetricValues& values) {
    JsonPtr out = make_object();
    set_bool(out.get(), "ok", true);
    for (const MetricSpec& spec : kMetrics) {
        set_number(out.get(), std::string(spec.stats_key).c_str(),
                   static_cast<double>(values.of(spec)));
    }
    if (!values.counters.broker_shards.empty()) {
        JsonPtr shards = make_array();
        for (const BrokerShardMetrics& shard : values.counters.broker_shards) {
            JsonPtr entry = make_object();
            set_string(entry.get(), "url", shard.url);
            for (const ShardSpec& spec : kShardMetrics) {
                set_number(entry.get(), std::string(spec.key).c_str(),
                           static_cast<double>((shard.*spec.value).load()));
            }
            cJSON_AddItemToArray(shards.get(), entry.release());
        }
        set_json(out.get(), "broker_shards", std::move(shards));
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
    for (const ShardSpec& spec : kShardMetrics) {
        out.append("| `broker_shards[].").append(spec.key).append("` | `roompush_broker_shard_");
        out.append(spec.prometheus).append("{shard,url}` | ").append(type_name(spec.type));
        out.append(" | ").append(spec.help).append(" (Redis brokers only) |\n");
    }
    return out;
}

}  // namespace rp::sidecar

#include "sidecar_metrics.h"

#include "roompush/prometheus.h"

namespace rp::sidecar {
namespace {

void add(std::string& out, const char* name, MetricType type, const char* help, uint64_t value) {
    append_metric(out, std::string("roompush_") + name, type, help, value);
}

}  // namespace

std::string render_prometheus(const SidecarMetrics& m, const SidecarGauges& g) {
    std::string out;
    out.reserve(4096);
    add(out, "connections", MetricType::gauge, "Open WebSocket connections.", g.connections);
    add(out, "rooms", MetricType::gauge, "Rooms with members or retained messages.", g.rooms);
    add(out, "members", MetricType::gauge, "Room memberships of WebSocket connections.", g.members);
    add(out, "bytes_queued", MetricType::gauge, "Bytes waiting in send queues.", g.bytes_queued);
    add(out, "retained_messages", MetricType::gauge, "Messages kept in room histories.", g.retained_messages);
    add(out, "retained_bytes", MetricType::gauge, "Bytes kept in room histories.", g.retained_bytes);
    add(out, "connections_opened_total", MetricType::counter, "WebSocket connections accepted.",
        m.connections_opened);
    add(out, "messages_published_total", MetricType::counter, "Messages published to rooms.", m.published);
    add(out, "messages_duplicate_total", MetricType::counter,
        "Publishes acked without delivery because their id was seen.", m.duplicates);
    add(out, "messages_delivered_total", MetricType::counter, "Message frames queued for a member.",
        m.delivered);
    add(out, "messages_dropped_total", MetricType::counter, "Message frames not queued for a member.",
        m.dropped);
    add(out, "messages_replayed_total", MetricType::counter, "Frames sent from history on resume.",
        m.replayed);
    add(out, "resets_total", MetricType::counter, "Resumes that could not be complete.", m.resets);
    add(out, "slow_consumer_closes_total", MetricType::counter,
        "Connections closed with 1013 for falling behind.", m.slow_consumer_closes);
    add(out, "ping_timeouts_total", MetricType::counter, "Connections closed for not answering pings.",
        m.ping_timeouts);
    add(out, "ws_refused_total", MetricType::counter, "Connections closed for a protocol or policy error.",
        m.ws_refused);
    add(out, "control_requests_total", MetricType::counter, "Control socket requests.", m.control_requests);
    add(out, "control_errors_total", MetricType::counter, "Control socket requests answered with an error.",
        m.control_errors);
    add(out, "broker_up", MetricType::gauge, "1 while the broker can take publishes, 0 while Redis is away.",
        m.broker_up);
    add(out, "broker_reconnects_total", MetricType::counter, "Connections to Redis made again.",
        m.broker_reconnects);
    add(out, "broker_errors_total", MetricType::counter, "Redis connections or commands that failed.",
        m.broker_errors);
    add(out, "broker_unavailable_total", MetricType::counter,
        "Publishes refused because Redis was unreachable.", m.broker_unavailable);
    add(out, "broker_gap_fills_total", MetricType::counter, "Rooms caught up from their Redis stream.",
        m.broker_gap_fills);
    add(out, "broker_lost_total", MetricType::counter,
        "Messages a room missed because its stream no longer had them.", m.broker_lost);
    add(out, "broker_bad_messages_total", MetricType::counter, "Messages from Redis that did not parse.",
        m.broker_bad_messages);
    return out;
}

}  // namespace rp::sidecar

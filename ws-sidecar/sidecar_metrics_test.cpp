#include "sidecar_metrics.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "roompush/control_codec.h"
#include "roompush/json.h"

namespace rp::sidecar {
namespace {

const std::string kProtocolDoc = std::string(ROOMPUSH_SOURCE_DIR) + "/docs/protocol.md";

std::string read_file(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

TEST(SidecarMetrics, PrometheusTextHasEveryFigureOnceWithItsHelpAndType) {
    SidecarMetrics metrics;
    metrics.published = 12;
    SidecarGauges gauges;
    gauges.rooms = 3;
    std::string text = render_prometheus(metrics, gauges);
    EXPECT_EQ(text.rfind("# HELP roompush_connections Open WebSocket connections.\n"
                         "# TYPE roompush_connections gauge\nroompush_connections 0\n",
                         0),
              0u);
    EXPECT_NE(text.find("\nroompush_rooms 3\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE roompush_messages_published_total counter\n"
                        "roompush_messages_published_total 12\n"),
              std::string::npos);
    EXPECT_NE(text.find("\nroompush_broker_up 1\n"), std::string::npos);
    EXPECT_EQ(text.find("uptime"), std::string::npos) << "uptime_s is in stats only";
    std::size_t samples = 0;
    for (std::size_t at = 0; (at = text.find("# TYPE ", at)) != std::string::npos; ++at) ++samples;
    EXPECT_EQ(samples, metric_specs().size() - 1);
}

TEST(SidecarMetrics, NamesAreUniqueAndPrometheusCountersEndInTotal) {
    std::set<std::string_view> keys, names;
    for (const MetricSpec& spec : metric_specs()) {
        EXPECT_TRUE(keys.insert(spec.stats_key).second) << spec.stats_key;
        if (spec.prometheus.empty()) continue;
        EXPECT_TRUE(names.insert(spec.prometheus).second) << spec.prometheus;
        EXPECT_EQ(spec.type == MetricType::counter, spec.prometheus.ends_with("_total"))
            << spec.prometheus;
    }
}

TEST(SidecarMetrics, StatsHasEveryFigureInTableOrder) {
    SidecarMetrics metrics;
    metrics.broker_lost = 4;
    SidecarGauges gauges;
    gauges.members = 2;
    auto stats = parse_json(encode_stats_response({metrics, gauges, 9}));
    ASSERT_TRUE(stats.ok());
    const cJSON* item = stats->get()->child;
    EXPECT_STREQ(item->string, "ok");
    for (const MetricSpec& spec : metric_specs()) {
        item = item->next;
        ASSERT_NE(item, nullptr);
        EXPECT_EQ(std::string_view(item->string), spec.stats_key);
    }
    EXPECT_EQ(*require_integer(stats->get(), "uptime_s"), 9);
    EXPECT_EQ(*require_integer(stats->get(), "members"), 2);
    EXPECT_EQ(*require_integer(stats->get(), "broker_lost"), 4);
}

// docs/protocol.md lists every figure as the table says. ROOMPUSH_UPDATE_DOCS=1 rewrites it.
TEST(SidecarMetrics, TheProtocolDocListsEveryFigure) {
    std::string doc = read_file(kProtocolDoc);
    std::size_t begin = doc.find(kMetricsDocBegin);
    std::size_t end = doc.find(kMetricsDocEnd);
    ASSERT_NE(begin, std::string::npos) << kProtocolDoc << " has no " << kMetricsDocBegin;
    ASSERT_NE(end, std::string::npos) << kProtocolDoc << " has no " << kMetricsDocEnd;
    begin += kMetricsDocBegin.size() + 1;
    std::string expected = render_metrics_doc();
    if (std::getenv("ROOMPUSH_UPDATE_DOCS") != nullptr) {
        doc.replace(begin, end - begin, expected);
        std::ofstream(kProtocolDoc) << doc;
        return;
    }
    EXPECT_EQ(doc.substr(begin, end - begin), expected)
        << "docs/protocol.md differs from the metrics table in ws-sidecar/sidecar_metrics.cpp; "
           "ROOMPUSH_UPDATE_DOCS=1 ./roompush-sidecar-control-tests rewrites it";
}

TEST(ControlProtocolDoc, TitleSaysTheVersionTheCodecSpeaks) {
    std::string title = read_file(kProtocolDoc).substr(0, 100);
    EXPECT_EQ(
        title.rfind(
            "# The control socket (version " + std::to_string(kControlProtocolVersion) + ")\n", 0),
        0u)
        << title;
}

}  // namespace
}  // namespace rp::sidecar

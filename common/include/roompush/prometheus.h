#pragma once
// The Prometheus text exposition format (version 0.0.4), the few parts roompush uses: one
// sample per metric, no labels.

#include <cstdint>
#include <string>
#include <string_view>

namespace rp {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { gauge, counter };

// Appends "# HELP name help", "# TYPE name type" and "name value" lines.
void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   uint64_t value);

}  // namespace rp

#pragma once
// The Prometheus text exposition format (version 0.0.4), the few parts roompush uses: one
// sample per metric, no labels, and plain histograms.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rp {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { gauge, counter };

// Appends "# HELP name help", "# TYPE name type" and "name value" lines.
void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   uint64_t value);

// A histogram: `counts[i]` observations at most `bounds[i]` and above bounds[i - 1] (counts has
// one more element, for above the last bound); written cumulative as `name_bucket{le="…"}`, with
// `name_sum` and `name_count`.
void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      std::span<const double> bounds, std::span<const uint64_t> counts, double sum);

}  // namespace rp

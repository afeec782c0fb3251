#include "roompush/prometheus.h"

#include <cstdio>
#include <cstdlib>

namespace rp {

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(type == MetricType::gauge ? " gauge\n"
                                                                        : " counter\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

namespace {

// Prometheus' float text: the shortest that reads back the same.
std::string number_text(double value) {
    if (value == static_cast<double>(static_cast<long long>(value)) && value < 1e15 &&
        value > -1e15) {
        return std::to_string(static_cast<long long>(value));
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    for (int digits = 1; digits <= 17; ++digits) {
        char shorter[32];
        std::snprintf(shorter, sizeof shorter, "%.*g", digits, value);
        if (std::strtod(shorter, nullptr) == value) return shorter;
    }
    return text;
}

}  // namespace

void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      std::span<const double> bounds, std::span<const uint64_t> counts,
                      double sum) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" histogram\n");
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size() && i < counts.size(); ++i) {
        cumulative += counts[i];
        std::string le = i < bounds.size() ? number_text(bounds[i]) : "+Inf";
        out.append(name).append("_bucket{le=\"").append(le).append("\"} ");
        out.append(std::to_string(cumulative)).append("\n");
    }
    out.append(name).append("_sum ").append(number_text(sum)).append("\n");
    out.append(name).append("_count ").append(std::to_string(cumulative)).append("\n");
}

}  // namespace rp

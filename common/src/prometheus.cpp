#include "roompush/prometheus.h"

namespace rp {

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(type == MetricType::gauge ? " gauge\n"
                                                                        : " counter\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace rp

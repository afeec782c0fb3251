#include "wait_option.h"

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "http_types.h"

namespace rp::app {
namespace {

std::optional<double> parse_seconds(std::string_view text) {
    if (text.empty() || text.size() > 16) return std::nullopt;
    std::string copy(text);
    char* end = nullptr;
    double value = std::strtod(copy.c_str(), &end);
    if (end == copy.c_str() || *end != '\0' || !std::isfinite(value) || value < 0)
        return std::nullopt;
    return value;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// "respond-async, wait=10" -> "10". Preferences are separated by ','; a preference's own
// parameters follow ';' and are not ours.
std::optional<std::string_view> prefer_wait(std::string_view prefer) {
    while (!prefer.empty()) {
        std::size_t comma = prefer.find(',');
        std::string_view item = trim(prefer.substr(0, std::min(comma, prefer.find(';'))));
        constexpr std::string_view kWait = "wait=";
        if (item.size() > kWait.size() && item.substr(0, kWait.size()) == kWait) {
            return trim(item.substr(kWait.size()));
        }
        if (comma == std::string_view::npos) break;
        prefer.remove_prefix(comma + 1);
    }
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> to_wait(double seconds, std::chrono::milliseconds cap) {
    if (seconds <= 0) return std::nullopt;
    double ms = std::min(seconds * 1000.0, static_cast<double>(cap.count()));
    return std::chrono::milliseconds(static_cast<long long>(ms));
}

}  // namespace

Result<std::optional<std::chrono::milliseconds>> requested_wait(const std::string& query,
                                                                const std::string& prefer,
                                                                std::chrono::milliseconds cap) {
    using Wait = std::optional<std::chrono::milliseconds>;
    bool in_query = ("&" + query).find("&wait=") != std::string::npos;
    if (in_query) {
        auto seconds = parse_seconds(query_param(query, "wait"));
        if (!seconds) {
            return make_error("invalid_wait", "wait must be a number of seconds, such as wait=10");
        }
        return Wait(to_wait(*seconds, cap));
    }
    if (auto text = prefer_wait(prefer)) {
        if (auto seconds = parse_seconds(*text)) return Wait(to_wait(*seconds, cap));
    }
    return Wait();
}

}  // namespace rp::app

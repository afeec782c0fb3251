#include "option_checks.h"

namespace rp::cli {

bool parse_whole_number(const std::string& text, uint64_t min, uint64_t max, uint64_t& out) {
    if (text.empty() || text.size() > 30) return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        uint64_t digit = static_cast<uint64_t>(c - '0');
        if (digit > max || value > (max - digit) / 10) return false;  // above max
        value = value * 10 + digit;
    }
    if (value < min) return false;
    out = value;
    return true;
}

CLI::Validator whole_number(uint64_t min, uint64_t max) {
    std::string range =
        "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    // What --help shows after the type, as CLI11's own checks did.
    std::string shown = max != kMaxJsonInteger
                            ? "INT in [" + std::to_string(min) + " - " + std::to_string(max) + "]"
                        : min == 0 ? "NONNEGATIVE"
                        : min == 1 ? "POSITIVE"
                                   : ">= " + std::to_string(min);
    return CLI::Validator(
        [min, max, range](std::string& value) -> std::string {
            uint64_t number = 0;
            if (!parse_whole_number(value, min, max, number))
                return range + ", not \"" + value + "\"";
            value = std::to_string(number);
            return {};
        },
        shown);
}

CLI::Validator member_id() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            uint64_t number = 0;
            if (!parse_whole_number(value, 1, kMaxJsonInteger, number)) {
                return "\"" + value +
                       "\" is not a member id (a positive whole number, as `pushctl room` lists "
                       "them)";
            }
            value = std::to_string(number);
            return {};
        },
        "POSITIVE");
}

}  // namespace rp::cli

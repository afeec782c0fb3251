#include "roompush/json_text.h"

#include "json_scan.h"
#include "roompush/json.h"
#include "roompush/utf8.h"

namespace rp {

using json_scan::kBesideCJson;

std::optional<std::string_view> find_member_text(std::string_view object, std::string_view key) {
    json_scan::Scanner scan(object, kBesideCJson);
    json_scan::MemberReader members(scan, scan.skip_space(0));
    while (auto member = members.next()) {
        if (member->key != key) continue;  // the first, as cJSON's
        // A raw CR between tokens is JSON whitespace, but spliced into the NDJSON answers of
        // `history` and `tail` it would split the line for readers that also end lines at CR.
        if (member->value.find('\r') != std::string_view::npos) return std::nullopt;
        return member->value;
    }
    return std::nullopt;
}

bool is_verbatim_json(std::string_view text) {
    if (text.empty() || json_scan::is_space(text.front())) return false;
    json_scan::Scanner scan(text, kBesideCJson);
    return scan.skip_value(0, 0) == text.size() && is_valid_utf8(text) && parse_json(text).ok();
}

std::string_view trim_json_space(std::string_view text) {
    while (!text.empty() && json_scan::is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && json_scan::is_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace rp

#include "roompush/json_text.h"

#include <cstddef>

#include "roompush/json.h"

namespace rp {
namespace {

// Where the scan gave up: the text is unusual, and cJSON's value is printed instead.
constexpr std::size_t kUnsure = std::string_view::npos;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::size_t skip_space(std::string_view text, std::size_t pos) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    return pos;
}

// The position after an escape that starts at its backslash.
std::size_t skip_escape(std::string_view text, std::size_t pos) {
    if (pos + 1 >= text.size()) return kUnsure;
    switch (text[pos + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            return pos + 2;
        case 'u':
            if (pos + 6 > text.size()) return kUnsure;
            for (std::size_t i = pos + 2; i < pos + 6; ++i) {
                if (!is_hex(text[i])) return kUnsure;
            }
            // cJSON ends a string at U+0000 ("a\u0000b" is "a" to it): the text would say more
            // than the value that was validated.
            if (text.substr(pos + 2, 4) == "0000") return kUnsure;
            return pos + 6;
        default:
            return kUnsure;
    }
}

// The position after a string that starts at its opening quote. A raw control character is
// unusual: cJSON takes it, but JSON does not, and cJSON would have printed it escaped.
std::size_t skip_string(std::string_view text, std::size_t pos) {
    ++pos;
    while (pos < text.size()) {
        auto byte = static_cast<unsigned char>(text[pos]);
        if (byte == '"') return pos + 1;
        if (byte < 0x20) return kUnsure;
        pos = byte == '\\' ? skip_escape(text, pos) : pos + 1;
        if (pos == kUnsure) return kUnsure;
    }
    return kUnsure;
}

std::size_t skip_digits(std::string_view text, std::size_t pos) {
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    return pos;
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, nothing more, nothing less.
bool is_json_number(std::string_view token) {
    std::size_t pos = !token.empty() && token[0] == '-' ? 1 : 0;
    if (pos >= token.size() || !is_digit(token[pos])) return false;
    pos = token[pos] == '0' ? pos + 1 : skip_digits(token, pos);
    if (pos < token.size() && token[pos] == '.') {
        std::size_t fraction = pos + 1;
        pos = skip_digits(token, fraction);
        if (pos == fraction) return false;
    }
    if (pos < token.size() && (token[pos] == 'e' || token[pos] == 'E')) {
        ++pos;
        if (pos < token.size() && (token[pos] == '+' || token[pos] == '-')) ++pos;
        std::size_t exponent = pos;
        pos = skip_digits(token, exponent);
        if (pos == exponent) return false;
    }
    return pos == token.size();
}

// A number or a literal: the position after it.
std::size_t skip_scalar(std::string_view text, std::size_t pos) {
    std::size_t end = pos;
    while (end < text.size() && !is_space(text[end]) && text[end] != ',' && text[end] != ']' &&
           text[end] != '}') {
        ++end;
    }
    std::string_view token = text.substr(pos, end - pos);
    bool plain = token == "true" || token == "false" || token == "null" || is_json_number(token);
    return plain ? end : kUnsure;
}

// The position after the value that starts at `pos`. Brackets are matched by depth alone, and
// commas and colons taken where they stand: cJSON has checked the structure; this checks tokens.
std::size_t skip_value(std::string_view text, std::size_t pos) {
    std::size_t depth = 0;
    do {
        pos = skip_space(text, pos);
        if (pos >= text.size()) return kUnsure;
        char c = text[pos];
        if (c == '{' || c == '[') {
            ++depth;
            ++pos;
        } else if (c == '}' || c == ']' || c == ',' || c == ':') {
            if (depth == 0) return kUnsure;
            if (c == '}' || c == ']') --depth;
            ++pos;
        } else {
            pos = c == '"' ? skip_string(text, pos) : skip_scalar(text, pos);
            if (pos == kUnsure) return kUnsure;
        }
    } while (depth > 0);
    return pos;
}

}  // namespace

std::optional<std::string_view> find_member_text(std::string_view object, std::string_view key) {
    std::size_t pos = skip_space(object, 0);
    if (pos >= object.size() || object[pos] != '{') return std::nullopt;
    pos = skip_space(object, pos + 1);
    while (pos < object.size() && object[pos] == '"') {
        std::size_t name_end = skip_string(object, pos);
        if (name_end == kUnsure) return std::nullopt;
        std::string_view name = object.substr(pos + 1, name_end - pos - 2);
        // cJSON compares decoded keys: "d\u0061ta" is "data" to it. Rare enough to leave to it.
        if (name.find('\\') != std::string_view::npos) return std::nullopt;
        pos = skip_space(object, name_end);
        if (pos >= object.size() || object[pos] != ':') return std::nullopt;
        std::size_t value = skip_space(object, pos + 1);
        pos = skip_value(object, value);
        if (pos == kUnsure) return std::nullopt;
        if (name == key) {  // the first, as cJSON's
            std::string_view text = object.substr(value, pos - value);
            // A raw CR between tokens is JSON whitespace, but spliced into the NDJSON answers of
            // `history` and `tail` it would split the line for readers that also end lines at CR.
            if (text.find('\r') != std::string_view::npos) return std::nullopt;
            return text;
        }
        pos = skip_space(object, pos);
        if (pos >= object.size() || object[pos] != ',') return std::nullopt;  // '}': not there
        pos = skip_space(object, pos + 1);
    }
    return std::nullopt;
}

bool is_verbatim_json(std::string_view text) {
    if (text.empty() || is_space(text.front())) return false;
    return skip_value(text, 0) == text.size() && parse_json(text).ok();
}

std::string_view trim_json_space(std::string_view text) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace rp

#include "json_scan.h"

#include <array>
#include <cstdint>

namespace rp::json_scan {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The bytes a string's scan stops at: its end, an escape, and the raw control characters that
// JSON does not allow in it. One lookup a byte: most of a line is inside strings.
constexpr std::array<bool, 256> kStringStops = [] {
    std::array<bool, 256> stops{};
    for (int c = 0; c < 0x20; ++c) stops[c] = true;
    stops['"'] = stops['\\'] = true;
    return stops;
}();

}  // namespace

// The containers open inside one value, innermost last: whether each is an object (a key comes
// after its commas) or an array. At most cJSON's limit of them, so a fixed array of bits, and
// no allocation.
class Scanner::Nesting {
public:
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    bool in_object() const { return (words_[(size_ - 1) / 64] >> ((size_ - 1) % 64)) & 1; }
    char closer() const { return in_object() ? '}' : ']'; }

    void push(bool object) {
        std::uint64_t bit = std::uint64_t{1} << (size_ % 64);
        std::uint64_t& word = words_[size_ / 64];
        // The first bit of a word writes all of it: the array is not cleared beforehand.
        word = size_ % 64 == 0 ? 0 : word & ~bit;
        if (object) word |= bit;
        ++size_;
    }
    void pop() { --size_; }

private:
    std::uint64_t words_[(CJSON_NESTING_LIMIT + 63) / 64];
    std::size_t size_ = 0;
};

std::size_t Scanner::skip_more_space(std::size_t pos) const {
    while (pos < text_.size() && is_space(text_[pos]) &&
           (text_[pos] != '\r' || rules_.cr_is_space)) {
        ++pos;
    }
    return pos;
}

std::size_t Scanner::skip_unescaped(std::size_t pos) const {
    const char* text = text_.data();
    while (pos < text_.size() && !kStringStops[static_cast<unsigned char>(text[pos])]) ++pos;
    return pos;
}

// Most strings have no escape: their scan is one loop, and the rest is skip_escaped_string's.
std::size_t Scanner::skip_string(std::size_t pos, Escapes escapes) const {
    pos = skip_unescaped(pos + 1);
    return at(pos) == '"' ? pos + 1 : skip_escaped_string(pos, escapes);
}

// At a stop other than the closing quote. A raw control character is unsure: cJSON takes it,
// JSON does not, and cJSON prints it escaped.
std::size_t Scanner::skip_escaped_string(std::size_t pos, Escapes escapes) const {
    while (at(pos) == '\\') {
        pos = skip_escape(pos, escapes);
        if (pos == kUnsure) return kUnsure;
        pos = skip_unescaped(pos);
        if (at(pos) == '"') return pos + 1;
    }
    return kUnsure;  // a control character, or the end of the text
}

// At the backslash.
std::size_t Scanner::skip_escape(std::size_t pos, Escapes escapes) const {
    if (escapes == Escapes::none) return kUnsure;
    switch (at(pos + 1)) {
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
            if (escapes != Escapes::unicode || pos + 6 > text_.size()) return kUnsure;
            for (std::size_t i = pos + 2; i < pos + 6; ++i) {
                if (!is_hex(text_[i])) return kUnsure;
            }
            return text_.substr(pos + 2, 4) == "0000" ? kUnsure : pos + 6;
        default:
            return kUnsure;
    }
}

std::size_t Scanner::skip_name(std::size_t pos, Escapes escapes, std::string_view& name) const {
    if (at(pos) != '"') return kUnsure;
    std::size_t end = skip_string(pos, escapes);
    if (end == kUnsure) return kUnsure;
    name = std::string_view(text_.data() + pos + 1, end - pos - 2);
    end = skip_space(end);
    return at(end) == ':' ? end + 1 : kUnsure;
}

// Where a number or a literal may end: "01" is not 0 followed by something else, it is a number
// that only cJSON reads. A caller that stops at a value (find_member_text) relies on this.
bool Scanner::ends_token(std::size_t pos) const {
    if (pos == kUnsure) return false;
    char c = at(pos);
    return pos == text_.size() || is_space(c) || c == ',' || c == ']' || c == '}';
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, where cJSON (strtod) also reads "01", "1."
// or "-.5".
std::size_t Scanner::skip_number(std::size_t pos) const {
    if (at(pos) == '-') ++pos;
    if (at(pos) == '0') {
        ++pos;
    } else if (is_digit(at(pos))) {
        while (is_digit(at(pos))) ++pos;
    } else {
        return kUnsure;
    }
    if (at(pos) == '.') {
        if (!is_digit(at(++pos))) return kUnsure;
        while (is_digit(at(pos))) ++pos;
    }
    if (at(pos) == 'e' || at(pos) == 'E') {
        if (at(++pos) == '+' || at(pos) == '-') ++pos;
        if (!is_digit(at(pos))) return kUnsure;
        while (is_digit(at(pos))) ++pos;
    }
    return ends_token(pos) ? pos : kUnsure;
}

std::size_t Scanner::skip_literal(std::size_t pos) const {
    if (pos >= text_.size()) return kUnsure;
    for (std::string_view literal : {"true", "false", "null"}) {
        if (text_.substr(pos, literal.size()) == literal) {
            return ends_token(pos + literal.size()) ? pos + literal.size() : kUnsure;
        }
    }
    return kUnsure;
}

// At an opening bracket: the position of the container's first value, or, for an empty one,
// whatever comes after it (after_value).
std::size_t Scanner::enter(std::size_t pos, std::size_t depth, Nesting& open) const {
    if (depth + open.size() >= rules_.max_depth) return kUnsure;
    bool object = text_[pos] == '{';
    open.push(object);
    pos = skip_space(pos + 1);
    if (at(pos) == open.closer()) return after_value(pos, open);
    std::string_view name;
    return object ? skip_name(pos, rules_.escapes, name) : pos;
}

// After a value inside `open`, at `pos`: the brackets that close there, then either the end
// of the outermost value (`open` is empty) or a comma and, in an object, the next key: the
// position of the next value.
std::size_t Scanner::after_value(std::size_t pos, Nesting& open) const {
    while (!open.empty()) {
        pos = skip_space(pos);
        if (at(pos) == ',') {
            std::string_view name;
            pos = skip_space(pos + 1);
            return open.in_object() ? skip_name(pos, rules_.escapes, name) : pos;
        }
        if (at(pos) != open.closer()) return kUnsure;
        open.pop();
        ++pos;
    }
    return pos;
}

// Iterative, with the open containers in bits: 1000 levels of brackets cost no stack.
std::size_t Scanner::skip_value(std::size_t pos, std::size_t depth) const {
    Nesting open;
    do {
        pos = skip_space(pos);
        char c = at(pos);
        if (c == '{' || c == '[') {
            pos = enter(pos, depth, open);
            continue;
        }
        if (c == '"') {
            pos = skip_string(pos, rules_.escapes);
        } else {
            pos = c == '-' || is_digit(c) ? skip_number(pos) : skip_literal(pos);
        }
        if (pos != kUnsure) pos = after_value(pos, open);
    } while (pos != kUnsure && !open.empty());
    return pos;
}

MemberReader::MemberReader(const Scanner& scan, std::size_t pos)
    : scan_(scan), pos_(scan.at(pos) == '{' ? pos + 1 : kUnsure) {}

std::optional<Member> MemberReader::next() {
    if (closed_ || pos_ == kUnsure) return std::nullopt;
    std::size_t pos = scan_.skip_space(pos_);
    pos_ = kUnsure;  // until the member is whole
    if (scan_.at(pos) == '}') {
        closed_ = true;
        pos_ = pos + 1;
        return std::nullopt;
    }
    if (!first_) {
        if (scan_.at(pos) != ',') return std::nullopt;
        pos = scan_.skip_space(pos + 1);
    }
    first_ = false;
    Member member;
    std::size_t value = scan_.skip_space(scan_.skip_name(pos, Escapes::none, member.key));
    if (value == kUnsure) return std::nullopt;
    std::size_t value_end = scan_.skip_value(value, 1);
    if (value_end == kUnsure) return std::nullopt;
    member.value = std::string_view(scan_.text().data() + value, value_end - value);
    pos_ = value_end;
    return member;
}

}  // namespace rp::json_scan

#pragma once
// Strict JSON (RFC 8259) scanning that builds nothing: where a string, a value or an object's
// member ends. The one scanner behind find_member_text and is_verbatim_json (json_text.cpp),
// which look at text beside cJSON, and behind scan_publish (publish_scan.cpp), which reads a
// request line instead of cJSON and so must itself be sure of all that cJSON would check.
//
// Each skip_* takes the position where the thing starts and returns the one after it, or
// kUnsure: the text is not strict JSON, or is JSON that cJSON might read otherwise. Nothing is
// ever read outside the text, whatever it holds.

#include <cjson/cJSON.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace rp::json_scan {

inline constexpr std::size_t kUnsure = std::string_view::npos;

// Which backslash escapes a string may hold.
enum class Escapes {
    none,     // any backslash is unsure (a key: cJSON compares keys decoded)
    simple,   // the two-character ones; \u is unsure: only cJSON checks its surrogate pairs
    unicode,  // those and \uXXXX, in text that cJSON checks too; \u0000 stays unsure, since
              // cJSON ends a string there and the text would say more than its value
};

struct Rules {
    Escapes escapes = Escapes::unicode;
    bool cr_is_space = true;  // a raw CR between tokens (JSON allows it; a reader of lines may not)
    std::size_t max_depth = CJSON_NESTING_LIMIT;  // cJSON refuses deeper nesting
};

// Beside cJSON, which checks the text as well: what matters is that the tokens are strict.
inline constexpr Rules kBesideCJson{};
// Instead of cJSON: no \u (its surrogate pairs are cJSON's to judge) and no raw CR (the cJSON
// path prints a data that holds one rather than pass it on; simplest is to decline it anywhere).
inline constexpr Rules kInsteadOfCJson{Escapes::simple, false, CJSON_NESTING_LIMIT};

// JSON's whitespace: space, tab, LF, CR.
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Scanner {
public:
    Scanner(std::string_view text, Rules rules) : text_(text), rules_(rules) {}

    std::string_view text() const { return text_; }
    // The byte at `pos`, or NUL past the end: a NUL is never part of a token, so a check of
    // the next byte needs no bounds check of its own.
    char at(std::size_t pos) const { return pos < text_.size() ? text_[pos] : '\0'; }

    // Inline for its common case, no space at all: it is called between every two tokens.
    std::size_t skip_space(std::size_t pos) const {
        return pos < text_.size() && static_cast<unsigned char>(text_[pos]) <= ' '
                   ? skip_more_space(pos)
                   : pos;
    }
    // At the opening quote.
    std::size_t skip_string(std::size_t pos, Escapes escapes) const;
    // At a member's key: past the key and its colon; `name` is the key's text between quotes.
    std::size_t skip_name(std::size_t pos, Escapes escapes, std::string_view& name) const;
    // One value, nested in `depth` containers already (each counts against max_depth).
    std::size_t skip_value(std::size_t pos, std::size_t depth) const;

private:
    class Nesting;

    std::size_t skip_more_space(std::size_t pos) const;
    std::size_t skip_unescaped(std::size_t pos) const;
    std::size_t skip_escaped_string(std::size_t pos, Escapes escapes) const;
    std::size_t skip_escape(std::size_t pos, Escapes escapes) const;
    bool ends_token(std::size_t pos) const;
    std::size_t skip_number(std::size_t pos) const;
    std::size_t skip_literal(std::size_t pos) const;
    std::size_t enter(std::size_t pos, std::size_t depth, Nesting& open) const;
    std::size_t after_value(std::size_t pos, Nesting& open) const;

    std::string_view text_;
    Rules rules_;
};

// A member of an object: its key as written (never with escapes) and the text of its value,
// without the whitespace around it.
struct Member {
    std::string_view key;
    std::string_view value;
};

// The members of the object at `pos`, one at a time, in order, so that a caller can stop at
// the one it wants. A key written with a backslash is unsure: "d\u0061ta" is "data" to cJSON.
class MemberReader {
public:
    MemberReader(const Scanner& scan, std::size_t pos);

    // The next member; nullopt at the closing brace, or where the scan is unsure.
    std::optional<Member> next();
    // Once next() answered nullopt: the position after the closing brace, or kUnsure.
    std::size_t end() const { return pos_; }

private:
    const Scanner& scan_;
    std::size_t pos_;  // after the opening brace, then after each member's value
    bool first_ = true;
    bool closed_ = false;
};

}  // namespace rp::json_scan

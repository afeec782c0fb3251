#pragma once
// Splits a byte stream into newline-terminated lines with a hard limit on line length.
// A line over the limit is reported once as `too_long` and skipped up to its newline, so one
// bad line never costs the connection.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rp {

class LineReader {
public:
    explicit LineReader(std::size_t max_line_bytes) : max_line_(max_line_bytes) {}

    struct Item {
        enum class Kind { line, too_long } kind;
        std::string text;  // without the newline (and without a trailing '\r'); empty if too_long
    };

    void feed(std::string_view bytes);
    // The next complete line, or nullopt until more bytes arrive.
    std::optional<Item> next();
    // At the end of the stream: the last line if it had no newline (nullopt if none, or if it
    // was over the limit).
    std::optional<std::string> take_unterminated();
    // Bytes held for a line that has not ended yet.
    std::size_t pending_bytes() const { return buffer_.size() - start_; }

private:
    std::size_t max_line_;
    std::string buffer_;
    std::size_t start_ = 0;
    bool discarding_ = false;  // inside an over-long line, waiting for its end
};

}  // namespace rp

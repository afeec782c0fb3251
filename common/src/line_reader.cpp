#include "roompush/line_reader.h"

namespace rp {

void LineReader::feed(std::string_view bytes) {
    if (start_ > 0 && start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    }
    buffer_.append(bytes);
}

std::optional<LineReader::Item> LineReader::next() {
    for (;;) {
        std::size_t newline = buffer_.find('\n', start_);
        if (discarding_) {
            if (newline == std::string::npos) {
                buffer_.clear();  // still inside the long line: drop what we have
                start_ = 0;
                return std::nullopt;
            }
            start_ = newline + 1;
            discarding_ = false;
            return Item{Item::Kind::too_long, {}};
        }
        if (newline == std::string::npos) {
            // +1: a line of exactly max_line_ bytes may be waiting for the '\n' after its '\r'.
            if (buffer_.size() - start_ > max_line_ + 1) {
                discarding_ = true;
                continue;
            }
            if (start_ > 0) {  // compact so the buffer never grows past one line
                buffer_.erase(0, start_);
                start_ = 0;
            }
            return std::nullopt;
        }
        std::size_t length = newline - start_;
        if (length > 0 && buffer_[newline - 1] == '\r') --length;
        if (length > max_line_) {
            start_ = newline + 1;
            return Item{Item::Kind::too_long, {}};
        }
        Item item{Item::Kind::line, buffer_.substr(start_, length)};
        start_ = newline + 1;
        return item;
    }
}

std::optional<std::string> LineReader::take_unterminated() {
    if (discarding_ || start_ >= buffer_.size()) return std::nullopt;
    std::string rest = buffer_.substr(start_);
    buffer_.clear();
    start_ = 0;
    if (rest.size() > max_line_) return std::nullopt;
    return rest;
}

}  // namespace rp

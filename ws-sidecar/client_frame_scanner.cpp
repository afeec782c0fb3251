#include "client_frame_scanner.h"

#include <algorithm>

namespace rp::sidecar {

bool ClientFrameScanner::feed(std::string_view bytes) {
    std::size_t at = 0;
    while (!failed_ && at < bytes.size()) {
        if (payload_left_ > 0) {
            uint64_t skip = std::min<uint64_t>(payload_left_, bytes.size() - at);
            payload_left_ -= skip;
            at += static_cast<std::size_t>(skip);
            continue;
        }
        header_[have_++] = static_cast<unsigned char>(bytes[at++]);
        if (have_ == 2 && (header_[1] & 0x80) == 0) failed_ = true;  // no mask
        if (!failed_ && header_complete()) have_ = 0;
    }
    return !failed_;
}

// Once the whole header is in: the payload's length is taken, and true.
bool ClientFrameScanner::header_complete() {
    if (have_ < 2) return false;
    unsigned code = header_[1] & 0x7f;
    std::size_t length_bytes = code == 127 ? 8 : code == 126 ? 2 : 0;
    if (have_ < 2 + length_bytes + 4) return false;
    uint64_t length = code;
    if (length_bytes > 0) {
        length = 0;
        for (std::size_t i = 0; i < length_bytes; ++i) length = length << 8 | header_[2 + i];
    }
    payload_left_ = length;
    return true;
}

}  // namespace rp::sidecar

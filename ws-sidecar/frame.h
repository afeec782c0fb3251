#pragma once
// One serialized WebSocket message, shared by every member it is sent to. The bytes carry
// headroom in front for the frame header that libwebsockets writes in place (LWS_PRE), so a
// publish to a thousand members is one allocation and no copies.

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace rp::sidecar {

inline constexpr std::size_t kFrameHeadroom = 16;  // checked against LWS_PRE in ws_server.cpp

class Frame {
public:
    explicit Frame(std::string_view payload) : bytes_(kFrameHeadroom + payload.size()) {
        std::copy(payload.begin(), payload.end(), bytes_.begin() + kFrameHeadroom);
    }
    // Writable because libwebsockets writes the header into the headroom; the header is the same
    // for every member, so sharing stays correct.
    unsigned char* payload() { return bytes_.data() + kFrameHeadroom; }
    std::size_t size() const { return bytes_.size() - kFrameHeadroom; }
    std::string_view text() const {
        return {reinterpret_cast<const char*>(bytes_.data()) + kFrameHeadroom, size()};
    }

private:
    std::vector<unsigned char> bytes_;
};

using FramePtr = std::shared_ptr<Frame>;

inline FramePtr make_frame(std::string_view payload) { return std::make_shared<Frame>(payload); }

}  // namespace rp::sidecar

#pragma once
// permessage-deflate (RFC 7692) on the way out, compressed once per message: the first time a
// frame goes to a member that negotiated the extension, its payload is compressed and kept in the
// frame (frame.h), and every other such member gets the same bytes. Each message is compressed
// on its own (no context takeover), so a member's decompressor never needs what an earlier
// message held: the same bytes are right for every member, whatever it was sent before, and
// the sidecar keeps no compressor per connection (docs/websocket.md, "Compression").
//
// A message that does not come out smaller goes as it is (RSV1 clear), which the extension
// allows per message. Loop thread only.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "frame.h"
#include "roompush/message_deflate.h"

namespace rp::sidecar {

// The payload a deflate member is sent, and whether it is the compressed form (RSV1 set).
struct DeflateForm {
    Frame* frame;
    bool compressed;
};

class MessageDeflater {
public:
    // Shorter messages are sent as they are: a deflate block's own bytes would eat the gain.
    static constexpr std::size_t kMinBytes = 64;

    // `compressed`: counts the messages compressed (once each).
    explicit MessageDeflater(std::atomic<uint64_t>& compressed) : compressed_(compressed) {}

    DeflateForm form(Frame& frame);

private:
    MessageCompressor compressor_;
    std::vector<unsigned char> packed_;
    std::atomic<uint64_t>& compressed_;
};

// Whether the permessage-deflate offer in a Sec-WebSocket-Extensions value can be taken as
// libwebsockets 4.1 answers it: with the extension's name and the valueless parameters echoed.
// So: one offer only (lws fails the upgrade on some lists of several), its parameters RFC 7692's,
// and no server_max_window_bits, which must be answered with its value, as lws does not.
bool deflate_offer_acceptable(std::string_view offers);

// RFC 6455 header of an unmasked, final text frame of `length` bytes into `out` (room for
// kMaxFrameHeaderBytes), with RSV1 set when the payload is compressed; returns its size.
inline constexpr std::size_t kMaxFrameHeaderBytes = 10;
std::size_t encode_text_frame_header(unsigned char* out, std::size_t length,
                                     bool compressed = false);

}  // namespace rp::sidecar

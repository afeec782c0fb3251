#pragma once
// permessage-deflate (RFC 7692) of one message on its own, both ways: raw deflate, flushed to a
// byte boundary, without the 00 00 FF FF the extension has the sender leave off. Each message is
// compressed afresh (no context takeover), so its bytes can be read by any member whatever it was
// sent before: the sidecar compresses a message once for every member (docs/websocket.md,
// "Compression"), and the load generator reads them back. zlib stays behind this header.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rp {

class MessageCompressor {
public:
    MessageCompressor();
    ~MessageCompressor();
    MessageCompressor(const MessageCompressor&) = delete;
    MessageCompressor& operator=(const MessageCompressor&) = delete;

    // The compressed form of `text` into `out` (replaced). False, with `out` empty, when zlib
    // failed; the message then goes as it is.
    bool compress(std::string_view text, std::vector<unsigned char>& out);

private:
    struct Stream;
    std::unique_ptr<Stream> stream_;
};

class MessageDecompressor {
public:
    MessageDecompressor();
    ~MessageDecompressor();
    MessageDecompressor(const MessageDecompressor&) = delete;
    MessageDecompressor& operator=(const MessageDecompressor&) = delete;

    // The text of one compressed message into `out` (replaced). False when `payload` does not
    // decompress on its own (it needs an earlier message's context, or is not deflate) or
    // would come to more than `max_bytes`.
    bool decompress(std::string_view payload, std::string& out, std::size_t max_bytes);

private:
    struct Stream;
    std::unique_ptr<Stream> stream_;
};

}  // namespace rp

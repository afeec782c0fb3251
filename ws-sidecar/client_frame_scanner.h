#pragma once
// Follows the frame headers of a client's byte stream, as it is read, to see the mask bit of
// every frame: RFC 6455 5.1 has a server fail a connection whose client sends a frame that is
// not masked. libwebsockets 4.1 does neither the check nor show its callbacks the bit, so the
// sidecar does it where lws reads the bytes (recv_guard.cpp). Only headers are parsed; payloads
// are skipped by their announced length, whatever the reads cut them into.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rp::sidecar {

class ClientFrameScanner {
public:
    // The next bytes of the stream, in order. False once a frame without a mask began: the
    // connection is to be failed (the scanner stays failed).
    bool feed(std::string_view bytes);

private:
    bool header_complete();

    unsigned char header_[14] = {};  // 2 bytes, up to 8 of length, 4 of mask
    std::size_t have_ = 0;           // header bytes collected
    uint64_t payload_left_ = 0;      // of the current frame, still to skip
    bool failed_ = false;
};

}  // namespace rp::sidecar

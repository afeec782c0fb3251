#include "client_frame_scanner.h"

#include <gtest/gtest.h>

#include <string>

namespace rp::sidecar {
namespace {

// A client frame of `payload_size` bytes: masked or not, with the header's length in 1, 2 or 8
// bytes as RFC 6455 has it.
std::string frame(std::size_t payload_size, bool masked = true, unsigned char first = 0x81) {
    std::string out(1, static_cast<char>(first));
    char mask_bit = masked ? static_cast<char>(0x80) : 0;
    if (payload_size < 126) {
        out += static_cast<char>(mask_bit | static_cast<char>(payload_size));
    } else if (payload_size <= 0xffff) {
        out += static_cast<char>(mask_bit | 126);
        out += static_cast<char>(payload_size >> 8);
        out += static_cast<char>(payload_size & 0xff);
    } else {
        out += static_cast<char>(mask_bit | 127);
        for (int i = 7; i >= 0; --i)
            out += static_cast<char>((uint64_t{payload_size} >> (8 * i)) & 0xff);
    }
    if (masked) out += "\x12\x34\x56\x78";
    out += std::string(payload_size, '\x80');  // bytes that look like headers with the bit set
    return out;
}

TEST(ClientFrameScanner, MaskedFramesOfEveryLengthPass) {
    ClientFrameScanner scanner;
    std::string stream = frame(0) + frame(5) + frame(125) + frame(126) + frame(70000) +
                         frame(3, true, 0x89) + frame(10, true, 0x01) + frame(10, true, 0x80);
    EXPECT_TRUE(scanner.feed(stream));
}

TEST(ClientFrameScanner, AFrameWithoutAMaskFails) {
    ClientFrameScanner scanner;
    EXPECT_TRUE(scanner.feed(frame(20)));
    EXPECT_FALSE(scanner.feed(frame(20, false)));
    EXPECT_FALSE(scanner.feed(frame(20))) << "it stays failed";
}

TEST(ClientFrameScanner, ReadsMayCutAnywhere) {
    std::string stream = frame(300) + frame(2) + frame(70000) + frame(7, false) + frame(1);
    std::size_t unmasked_at = frame(300).size() + frame(2).size() + frame(70000).size();
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{4096}}) {
        ClientFrameScanner scanner;
        std::size_t failed_by = 0;
        for (std::size_t at = 0; at < stream.size(); at += piece) {
            if (!scanner.feed(std::string_view(stream).substr(at, piece))) {
                failed_by = std::min(at + piece, stream.size());
                break;
            }
        }
        EXPECT_GT(failed_by, unmasked_at + 1) << "piece " << piece;
        EXPECT_LE(failed_by, unmasked_at + 2 + piece) << "piece " << piece;
    }
}

}  // namespace
}  // namespace rp::sidecar

#include "roompush/message_deflate.h"

#include <zlib.h>

#include <cstring>

namespace rp {
namespace {

// Each message on its own, so the whole window is never needed by a short one; 32 KiB covers a
// long one. A smaller hash (memLevel 5: 4 K entries) keeps deflateReset(), which clears it, cheap
// per message, at no cost in ratio on messages this size.
constexpr int kWindowBits = 15;
constexpr int kMemLevel = 5;
constexpr int kLevel = 6;  // compressed once per publish, however many members get it
constexpr unsigned char kFlushTail[] = {0x00, 0x00, 0xff, 0xff};

Bytef* input_of(std::string_view bytes) {
    return reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
}

}  // namespace

struct MessageCompressor::Stream {
    z_stream z{};
    bool ready = false;
};

MessageCompressor::MessageCompressor() : stream_(std::make_unique<Stream>()) {
    stream_->ready = deflateInit2(&stream_->z, kLevel, Z_DEFLATED, -kWindowBits, kMemLevel,
                                  Z_DEFAULT_STRATEGY) == Z_OK;
}

MessageCompressor::~MessageCompressor() {
    if (stream_->ready) deflateEnd(&stream_->z);
}

bool MessageCompressor::compress(std::string_view text, std::vector<unsigned char>& out) {
    out.clear();
    z_stream& z = stream_->z;
    if (!stream_->ready || deflateReset(&z) != Z_OK) return false;
    out.resize(deflateBound(&z, text.size()) + 8);
    z.next_in = input_of(text);
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    int status = deflate(&z, Z_SYNC_FLUSH);
    std::size_t made = out.size() - z.avail_out;
    bool whole =
        status == Z_OK && z.avail_in == 0 && made >= sizeof kFlushTail &&
        std::memcmp(out.data() + made - sizeof kFlushTail, kFlushTail, sizeof kFlushTail) == 0;
    out.resize(whole ? made - sizeof kFlushTail : 0);
    return whole;
}

struct MessageDecompressor::Stream {
    z_stream z{};
    bool ready = false;
};

MessageDecompressor::MessageDecompressor() : stream_(std::make_unique<Stream>()) {
    stream_->ready = inflateInit2(&stream_->z, -kWindowBits) == Z_OK;
}

MessageDecompressor::~MessageDecompressor() {
    if (stream_->ready) inflateEnd(&stream_->z);
}

bool MessageDecompressor::decompress(std::string_view payload, std::string& out,
                                     std::size_t max_bytes) {
    out.clear();
    z_stream& z = stream_->z;
    if (!stream_->ready || inflateReset(&z) != Z_OK) return false;
    const std::string_view tail(reinterpret_cast<const char*>(kFlushTail), sizeof kFlushTail);
    char chunk[16384];
    for (std::string_view in : {payload, tail}) {
        z.next_in = input_of(in);
        z.avail_in = static_cast<uInt>(in.size());
        do {
            z.next_out = reinterpret_cast<Bytef*>(chunk);
            z.avail_out = sizeof chunk;
            int status = inflate(&z, Z_SYNC_FLUSH);
            if (status != Z_OK && status != Z_BUF_ERROR && status != Z_STREAM_END) return false;
            out.append(chunk, sizeof chunk - z.avail_out);
            if (out.size() > max_bytes) return false;
            // A final block (BFINAL, which RFC 7692 allows) ends the message: no tail follows.
            if (status == Z_STREAM_END) return true;
            if (status == Z_BUF_ERROR) break;  // no progress possible: the input is used up
        } while (z.avail_in > 0 || z.avail_out == 0);
    }
    return true;
}

}  // namespace rp

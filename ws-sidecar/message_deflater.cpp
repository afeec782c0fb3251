#include "message_deflater.h"

#include <cstring>

namespace rp::sidecar {
namespace {

// Each message on its own, so the whole window is never needed by a short one; 32 KiB covers a
// long one. A smaller hash (memLevel 5: 4 K entries) keeps deflateReset(), which clears it, cheap
// per message, at no cost in ratio on messages this size.
constexpr int kWindowBits = 15;
constexpr int kMemLevel = 5;
constexpr int kLevel = 6;  // compressed once per publish, however many members get it
constexpr unsigned char kFlushTail[] = {0x00, 0x00, 0xff, 0xff};

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// The next `separator`-delimited piece of `text`, consumed.
std::string_view next_piece(std::string_view& text, char separator) {
    std::size_t end = text.find(separator);
    std::string_view piece = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    return trimmed(piece);
}

bool parameter_acceptable(std::string_view parameter) {
    std::string_view value;
    if (std::size_t equals = parameter.find('='); equals != std::string_view::npos) {
        value = trimmed(parameter.substr(equals + 1));
        parameter = trimmed(parameter.substr(0, equals));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
    }
    if (parameter == "server_no_context_takeover" || parameter == "client_no_context_takeover") {
        return value.empty();
    }
    // lws inflates with 15 bits, whatever the client compresses with. server_max_window_bits
    // would have to be answered, which lws 4.1 does not do for a parameter with a value.
    return parameter == "client_max_window_bits";
}

}  // namespace

bool deflate_offer_acceptable(std::string_view offers) {
    std::size_t seen = 0;
    bool acceptable = true;
    while (!offers.empty()) {
        std::string_view offer = next_piece(offers, ',');
        if (next_piece(offer, ';') != "permessage-deflate") continue;
        if (++seen > 1) return false;  // lws 4.1 fails some such upgrades ("mentioned twice")
        while (!offer.empty())
            acceptable = acceptable && parameter_acceptable(next_piece(offer, ';'));
    }
    return seen == 1 && acceptable;
}

std::size_t encode_text_frame_header(unsigned char* out, std::size_t length, bool compressed) {
    out[0] = compressed ? 0xc1 : 0x81;
    if (length < 126) {
        out[1] = static_cast<unsigned char>(length);
        return 2;
    }
    if (length <= 0xffff) {
        out[1] = 126;
        out[2] = static_cast<unsigned char>(length >> 8);
        out[3] = static_cast<unsigned char>(length);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i)
        out[2 + i] = static_cast<unsigned char>(uint64_t{length} >> (56 - 8 * i));
    return 10;
}

MessageDeflater::MessageDeflater(std::atomic<uint64_t>& compressed) : compressed_(compressed) {
    ready_ = deflateInit2(&stream_, kLevel, Z_DEFLATED, -kWindowBits, kMemLevel,
                          Z_DEFAULT_STRATEGY) == Z_OK;
}

MessageDeflater::~MessageDeflater() {
    if (ready_) deflateEnd(&stream_);
}

DeflateForm MessageDeflater::form(Frame& frame) {
    if (!frame.deflate_tried_) {
        frame.deflate_tried_ = true;
        if (ready_ && frame.size() >= kMinBytes) {
            const std::vector<unsigned char>& packed = compress(frame.text());
            if (!packed.empty() && packed.size() < frame.size()) {
                FramePtr made = make_frame(
                    std::string_view(reinterpret_cast<const char*>(packed.data()), packed.size()));
                frame.deflated_ = made.release_ownership();
                compressed_++;
            }
        }
    }
    if (frame.deflated_ != nullptr) return {frame.deflated_, true};
    return {&frame, false};
}

const std::vector<unsigned char>& MessageDeflater::compress(std::string_view text) {
    out_.clear();
    if (deflateReset(&stream_) != Z_OK) return out_;
    out_.resize(deflateBound(&stream_, text.size()) + 8);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    stream_.avail_in = static_cast<uInt>(text.size());
    stream_.next_out = out_.data();
    stream_.avail_out = static_cast<uInt>(out_.size());
    int status = deflate(&stream_, Z_SYNC_FLUSH);
    std::size_t made = out_.size() - stream_.avail_out;
    bool whole =
        status == Z_OK && stream_.avail_in == 0 && made >= sizeof kFlushTail &&
        std::memcmp(out_.data() + made - sizeof kFlushTail, kFlushTail, sizeof kFlushTail) == 0;
    out_.resize(whole ? made - sizeof kFlushTail : 0);
    return out_;
}

}  // namespace rp::sidecar

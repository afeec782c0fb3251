#include "message_deflater.h"

namespace rp::sidecar {
namespace {

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

DeflateForm MessageDeflater::form(Frame& frame) {
    if (!frame.deflate_tried_) {
        frame.deflate_tried_ = true;
        if (frame.size() >= kMinBytes && compressor_.compress(frame.text(), packed_) &&
            packed_.size() < frame.size()) {
            FramePtr made = make_frame(
                std::string_view(reinterpret_cast<const char*>(packed_.data()), packed_.size()));
            frame.deflated_ = made.release_ownership();
            compressed_++;
        }
    }
    if (frame.deflated_ != nullptr) return {frame.deflated_, true};
    return {&frame, false};
}

}  // namespace rp::sidecar

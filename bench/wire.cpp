#include "wire.h"

#include <algorithm>
#include <cstring>

namespace rp::bench {

std::string ws_handshake_request(std::string_view path, std::string_view host,
                                 std::string_view extensions) {
    std::string out;
    out.reserve(256);
    out += "GET ";
    out += path;
    out += " HTTP/1.1\r\nHost: ";
    out += host;
    if (!extensions.empty()) {
        out += "\r\nSec-WebSocket-Extensions: ";
        out += extensions;
    }
    out +=
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    return out;
}

long ws_handshake_end(std::string_view bytes) {
    std::size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) return bytes.size() > 8192 ? -1 : 0;
    if (bytes.substr(0, 12) != "HTTP/1.1 101") return -1;
    return static_cast<long>(end + 4);
}

std::optional<WsFrame> parse_ws_frame(std::string_view bytes) {
    if (bytes.size() < 2) return std::nullopt;
    auto b0 = static_cast<unsigned char>(bytes[0]);
    auto b1 = static_cast<unsigned char>(bytes[1]);
    std::size_t header = 2;
    uint64_t length = b1 & 0x7f;
    if (length == 126) {
        if (bytes.size() < 4) return std::nullopt;
        length = (uint64_t{static_cast<unsigned char>(bytes[2])} << 8) |
                 static_cast<unsigned char>(bytes[3]);
        header = 4;
    } else if (length == 127) {
        if (bytes.size() < 10) return std::nullopt;
        length = 0;
        for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
        header = 10;
    }
    if (b1 & 0x80) header += 4;  // a masked server frame is a protocol error; skip the key
    if (bytes.size() < header + length) return std::nullopt;
    WsFrame frame;
    frame.opcode = b0 & 0x0f;
    frame.fin = (b0 & 0x80) != 0;
    frame.compressed = (b0 & 0x40) != 0;
    frame.payload = bytes.substr(header, static_cast<std::size_t>(length));
    frame.consumed = header + static_cast<std::size_t>(length);
    return frame;
}

std::string ws_client_frame(int opcode, std::string_view payload, bool compressed) {
    std::string out;
    std::size_t length = std::min<std::size_t>(payload.size(), 0xffff);
    out.push_back(static_cast<char>(0x80 | (compressed ? 0x40 : 0) | opcode));
    if (length < 126) {
        out.push_back(static_cast<char>(0x80 | length));
    } else {  // the 16-bit extended length: a publish command is longer than a pong
        out.push_back(static_cast<char>(0x80 | 126));
        out.push_back(static_cast<char>(length >> 8));
        out.push_back(static_cast<char>(length & 0xff));
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    out.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < length; ++i)
        out.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    return out;
}

std::optional<HttpResponse> parse_http_response(std::string_view bytes) {
    std::size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (bytes.size() > 16384) return HttpResponse{-1, {}, bytes.size()};
        return std::nullopt;
    }
    HttpResponse response;
    if (bytes.size() < 12 || bytes.substr(0, 5) != "HTTP/") return HttpResponse{-1, {}, end + 4};
    response.status = std::atoi(std::string(bytes.substr(9, 3)).c_str());
    std::string_view head = bytes.substr(0, end);
    std::size_t length = 0;
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
         at = head.find("\r\n", at + 2)) {
        std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - (at + 2));
        if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
            length = static_cast<std::size_t>(
                std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10));
        }
    }
    if (bytes.size() < end + 4 + length) return std::nullopt;
    response.body = bytes.substr(end + 4, length);
    response.consumed = end + 4 + length;
    return response;
}

std::optional<uint64_t> find_number(std::string_view text, std::string_view key) {
    std::size_t at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    at += key.size();
    if (at >= text.size() || text[at] < '0' || text[at] > '9') return std::nullopt;
    uint64_t value = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        value = value * 10 + static_cast<uint64_t>(text[at] - '0');
        ++at;
    }
    return value;
}

}  // namespace rp::bench

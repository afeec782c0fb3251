#pragma once
// The few bytes of HTTP/1.1 and RFC 6455 the load generator speaks, parsed cheaply: a client
// handshake, server frames (never masked), masked client control frames, HTTP responses with
// Content-Length, and the numbers the benchmark embeds in its payloads.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rp::bench {

// `extensions`: a Sec-WebSocket-Extensions offer, or none.
std::string ws_handshake_request(std::string_view path, std::string_view host,
                                 std::string_view extensions = {});

// Where the 101 response ends (after the blank line), 0 when incomplete, -1 when it is not a 101.
long ws_handshake_end(std::string_view bytes);

struct WsFrame {
    int opcode = 0;
    bool fin = false;
    bool compressed = false;  // RSV1: permessage-deflate
    std::string_view payload;
    std::size_t consumed = 0;  // header + payload
};
// One complete frame at the start of `bytes`, or nullopt when more bytes are needed.
std::optional<WsFrame> parse_ws_frame(std::string_view bytes);

// A masked client frame (clients must mask): pongs, closes, and a browser's commands (up to
// 64 KiB: the 16-bit extended length).
std::string ws_client_frame(int opcode, std::string_view payload, bool compressed = false);

struct HttpResponse {
    int status = 0;
    std::string_view body;
    std::size_t consumed = 0;
};
// One complete response with Content-Length at the start of `bytes`; nullopt when incomplete;
// status -1 when it cannot be parsed.
std::optional<HttpResponse> parse_http_response(std::string_view bytes);

// The unsigned integer after `key` (e.g. "\"t\":" or "\"itemId\":\""), if any.
std::optional<uint64_t> find_number(std::string_view text, std::string_view key);

}  // namespace rp::bench

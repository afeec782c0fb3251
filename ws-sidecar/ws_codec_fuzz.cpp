// libFuzzer target: what a WebSocket client controls: its frames, its path and its query.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ws_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    (void)rp::sidecar::decode_client_command(bytes);
    (void)rp::sidecar::parse_ws_path(bytes);
    (void)rp::sidecar::parse_ws_query(bytes);
    return 0;
}

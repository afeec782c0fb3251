// libFuzzer target: what reaches a sidecar through Redis (anyone who can PUBLISH there) and
// what an operator types as --broker.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "redis_wire.h"
#include "roompush/broker_url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    (void)rp::sidecar::decode_pubsub_payload(bytes);
    (void)rp::sidecar::seq_of_stream_id(bytes);
    (void)rp::parse_broker_url(bytes);
    return 0;
}

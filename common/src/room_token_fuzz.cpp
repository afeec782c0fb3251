// libFuzzer target: any bytes as a room token must be refused cleanly (or be a real token).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "roompush/room_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<std::string> secrets = {std::string(40, 'k')};
    std::string token(reinterpret_cast<const char*>(data), size);
    (void)rp::verify_token(token, secrets, "room", 1800000000);
    (void)rp::base64url_decode(token);
    return 0;
}

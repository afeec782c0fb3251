// libFuzzer target: any bytes as a control-socket line, and the client side's response decoder.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "roompush/control_codec.h"
#include "roompush/line_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    rp::LineReader reader(4096);
    reader.feed(bytes);
    while (auto item = reader.next()) {
        auto request = rp::decode_request(item->text);
        if (request && request->data) (void)rp::to_json(request->data.get());
        auto response = rp::decode_response(item->text);
        if (response) {
            (void)rp::decode_publish_response(response->get());
            (void)rp::decode_rooms_response(response->get());
        }
    }
    (void)reader.take_unterminated();
    return 0;
}

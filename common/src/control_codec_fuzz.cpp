// libFuzzer target: any bytes as a control-socket line, and the client side's response decoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "roompush/control_codec.h"
#include "roompush/line_reader.h"
#include "roompush/utf8.h"

// A publish's data text, as passed on verbatim, must be the very value cJSON read from the line
// (compared as cJSON prints both: cJSON_Compare takes 1e999 to differ from itself).
static void check_data(std::string_view line, const std::string& data) {
    auto parsed = rp::parse_json(line);
    auto text = rp::parse_json(data);
    if (!parsed || !text) std::abort();
    const cJSON* value = cJSON_GetObjectItemCaseSensitive(parsed->get(), "data");
    if (rp::to_json(text->get()) != rp::to_json(value)) std::abort();
    if (!rp::is_valid_utf8(data)) std::abort();  // what a browser would fail the WebSocket on
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    rp::LineReader reader(4096);
    reader.feed(bytes);
    while (auto item = reader.next()) {
        auto request = rp::decode_request(item->text);
        if (request && request->op == rp::ControlOp::publish) check_data(item->text, request->data);
        auto response = rp::decode_response(item->text);
        if (response) {
            (void)rp::decode_publish_response(response->get());
            (void)rp::decode_rooms_response(response->get());
        }
    }
    (void)reader.take_unterminated();
    return 0;
}

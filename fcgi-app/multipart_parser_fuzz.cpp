// libFuzzer target: an upload body (first line: the Content-Type) fed in uneven pieces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "multipart_parser.h"

namespace {

class Sink : public rp::app::MultipartHandler {
public:
    rp::Status on_part_begin(const rp::app::PartHeaders& headers) override {
        return headers.name.size() > 1000 ? rp::Status(rp::make_error("x", "x")) : rp::ok_status();
    }
    rp::Status on_part_data(std::string_view bytes) override {
        total += bytes.size();
        return rp::ok_status();
    }
    rp::Status on_part_end() override { return rp::ok_status(); }
    std::size_t total = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t newline = input.find('\n');
    if (newline == std::string_view::npos) return 0;
    auto boundary = rp::app::multipart_boundary(input.substr(0, newline));
    if (!boundary) return 0;
    Sink sink;
    rp::app::MultipartParser parser(*boundary, {256, 8}, sink);
    std::string_view body = input.substr(newline + 1);
    std::size_t step = 1 + (size % 7);
    for (std::size_t i = 0; i < body.size(); i += step) {
        if (!parser.feed(body.substr(i, step))) return 0;
        step = step * 3 % 13 + 1;
    }
    (void)parser.finish();
    return 0;
}

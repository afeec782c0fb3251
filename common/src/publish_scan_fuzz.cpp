// Differential libFuzzer target: for any line, decode_request's fast path (scan_publish) either
// declines or answers exactly what the cJSON path answers, and decode_request refuses that
// answer exactly when its data is not UTF-8; anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "publish_scan.h"
#include "roompush/utf8.h"

namespace {

void print_request(const char* which, const rp::ControlRequest& request) {
    std::fprintf(stderr,
                 "%s: op=%s room=[%s] event=[%s] id=[%s] rooms=%zu since=%d limit=%d member=%llu"
                 " prometheus=%d cluster=%d data=[%s]\n",
                 which, rp::op_name(request.op), request.room.c_str(), request.event.c_str(),
                 request.id.c_str(), request.rooms.size(), request.since.has_value(),
                 request.limit.has_value(), static_cast<unsigned long long>(request.member),
                 request.prometheus, request.cluster, request.data.c_str());
}

// The data must also be the very value cJSON reads from the line, compared as cJSON prints
// both (cJSON_Compare takes 1e999 to differ from itself): the cJSON path finds the data's text
// with the same json_scan, so a slip of the shared scanner would not show in the comparison.
bool is_cjsons_data(std::string_view line, const std::string& data) {
    auto parsed = rp::parse_json(line);
    auto text = rp::parse_json(data);
    if (!parsed || !text) return false;
    const cJSON* value = cJSON_GetObjectItemCaseSensitive(parsed->get(), "data");
    return value != nullptr && rp::to_json(text->get()) == rp::to_json(value);
}

// decode_request checks the data's UTF-8 after either path: it answers the fast path's request,
// or invalid_utf8, as the data's bytes say.
bool is_checked(std::string_view line, const rp::ControlRequest& fast) {
    auto full = rp::decode_request(line);
    if (rp::is_valid_utf8(fast.data)) return full && *full == fast;
    return !full && full.error().code == "invalid_utf8";
}

void check(std::string_view line) {
    auto fast = rp::scan_publish(line);
    if (!fast) return;
    auto slow = rp::decode_request_with_cjson(line);
    bool same = slow && *slow == *fast;
    if (same && is_cjsons_data(line, fast->data) && is_checked(line, *fast)) return;
    std::fprintf(stderr, "line: [%.*s]\n", static_cast<int>(line.size()), line.data());
    print_request("fast", *fast);
    if (same && is_cjsons_data(line, fast->data)) {
        std::fprintf(stderr, "decode_request's UTF-8 check does not answer as the data's bytes\n");
    } else if (same) {
        std::fprintf(stderr, "the data is not the value cJSON read from the line\n");
    } else if (slow) {
        print_request("cJSON", *slow);
    } else {
        std::fprintf(stderr, "cJSON: %s: %s\n", slow.error().code.c_str(),
                     slow.error().message.c_str());
    }
    std::abort();
}

// The input also stands in the places of a publish line, so that every mutation is tried where
// the fast path reads (a field's value, the data, the members, around the object) rather than
// the fuzzer first having to find a publish line on its own.
struct Frame {
    const char* before;
    const char* after;
};

constexpr Frame kFrames[] = {
    {R"({"op":"publish","room":"r1","event":"job.done","data":)", "}"},
    {R"({"op":"publish","room":"bench-12","event":"bench","data":{"t":1,"p":")", R"("}})"},
    {"{\"op\":\"publish\",\"room\":\"A\",\"event\":\"e\",\"data\":\"caf\xC3\xA9 ",
     "\xE2\x82\xAC\"}"},
    {R"({"op":"publish","room":")", R"(","event":"e","data":1})"},
    {R"({"op":"publish","room":"A","event":")", R"(","data":1})"},
    {R"({"op":"publish","room":"A","event":"e","id":")", R"(","data":{}})"},
    {R"({"op":")", R"(","room":"A","event":"e","data":[]})"},
    {R"({"op":"publish",)", "}"},
    {R"({"op":"publish","room":"A","event":"e","data":0,)", "}"},
    {R"({")", R"(":1,"op":"publish","room":"A","event":"e","data":null})"},
    {"", R"({"op":"publish","room":"A","event":"e","data":"x"})"},
    {R"({"op":"publish","room":"A","event":"e","data":true})", ""},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    check(bytes);
    for (const Frame& frame : kFrames) {
        std::string line = frame.before;
        line.append(bytes);
        line += frame.after;
        check(line);
    }
    return 0;
}

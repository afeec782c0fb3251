#include "publish_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace std::string_literals;

const std::string kBenchLine =
    R"({"op":"publish","room":"bench-12","event":"bench","data":{"t":1234567890123456789,"i":42,)"
    R"("p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}})";
// As the app's encode_publish_request prints a job event: data last.
const std::string kAppLine =
    R"({"op":"publish","room":"r1","event":"job.done","id":"job-7f3a9c2e41d84b6a:done","data":)"
    R"({"jobId":"7f3a9c2e41d84b6a","itemId":"item-42","status":"done","progress":100,)"
    R"("result":{"triangles":12345,"volume":1234.5678,"bbox":{"min":[-10.5,-20.25,0],)"
    R"("max":[10.5,20.25,35.75]},"watertight":true,"note":null}}})";

std::string publish(const std::string& members) {
    return R"({"op":"publish","room":"A","event":"e",)" + members + "}";
}

// The one rule: the fast path declines, or answers exactly what the cJSON path answers.
// Returns whether it answered.
bool agrees_with_cjson(const std::string& line) {
    auto fast = rp::scan_publish(line);
    if (!fast) return false;
    auto slow = rp::decode_request_with_cjson(line);
    if (!slow) {
        ADD_FAILURE() << line << ": cJSON says " << slow.error().code;
    } else {
        EXPECT_TRUE(*fast == *slow) << line << ": data " << fast->data << " / " << slow->data;
    }
    return true;
}

void expect_taken(const std::string& line) {
    EXPECT_TRUE(agrees_with_cjson(line)) << "declined: " << line;
}

void expect_declined(const std::string& line) {
    EXPECT_FALSE(agrees_with_cjson(line)) << "taken: " << line;
}

TEST(PublishScan, TakesTheBenchmarksLine) {
    auto request = rp::scan_publish(kBenchLine);
    ASSERT_TRUE(request.has_value());
    EXPECT_EQ(request->op, rp::ControlOp::publish);
    EXPECT_EQ(request->room, "bench-12");
    EXPECT_EQ(request->event, "bench");
    EXPECT_EQ(request->id, "");
    EXPECT_EQ(request->data, kBenchLine.substr(57, kBenchLine.size() - 58));
    expect_taken(kBenchLine);
}

TEST(PublishScan, TakesTheAppsJobEvent) {
    auto request = rp::scan_publish(kAppLine);
    ASSERT_TRUE(request.has_value());
    EXPECT_EQ(request->room, "r1");
    EXPECT_EQ(request->event, "job.done");
    EXPECT_EQ(request->id, "job-7f3a9c2e41d84b6a:done");
    EXPECT_EQ(request->data.substr(0, 30), R"({"jobId":"7f3a9c2e41d84b6a","i)");
    EXPECT_EQ(request->data.back(), '}');
    expect_taken(kAppLine);
}

// Plain enough, though not the usual shape: still the fast path's, with cJSON's answer.
TEST(PublishScan, TakesOtherPlainPublishes) {
    for (std::string line :
         {publish(R"("data":null)"), publish(R"("data":"text")"), publish(R"("data":[])"),
          publish(R"("data":-0.5e-3)"), publish(R"("data":12345678901234567890)"),
          publish(R"("data":)" + std::string(100, '9')), publish(R"("data":1e999)"),
          publish(R"("data":"a\"\\\/\b\f\n\r\t")"), publish("\"data\":\"caf\xc3\xa9\""),
          publish(R"("data":{"s":"}{][\"","a":[[],{}]},"id":"k")"), publish(R"("id":"","data":1)"),
          publish(R"("id":"caf)"
                  "\xc3\xa9"
                  R"(","data":1)"),
          publish(R"("since":5,"x":{"op":"rooms","data":2},"data":1)"),
          R"({"data":{"a":1},"id":"x:done","event":"job.done","room":"A","op":"publish"})"s,
          " \t{ \"op\" : \"publish\" , \"room\":\"A\",\"event\":\"e\",\"data\": [ 1 ,\n2 ] }\n "s,
          publish(R"("data":1,"":2,"ids":3,"Data":4)")}) {
        expect_taken(line);
    }
}

// The fast path checks a publish's fields as decode_publish does, up to each rule's edge.
TEST(PublishScan, FieldsUpToTheirLimits) {
    std::string room128(128, 'r'), event64(64, 'e'), id200(200, 'i');
    expect_taken(R"({"op":"publish","room":")" + room128 + R"(","event":"e","data":1})");
    expect_declined(R"({"op":"publish","room":")" + room128 + R"(r","event":"e","data":1})");
    expect_taken(R"({"op":"publish","room":"A","event":")" + event64 + R"(","data":1})");
    expect_declined(R"({"op":"publish","room":"A","event":")" + event64 + R"(e","data":1})");
    expect_taken(publish(R"("id":")" + id200 + R"(","data":1)"));
    expect_declined(publish(R"("id":")" + id200 + R"(i","data":1)"));
    expect_taken(R"({"op":"publish","room":"a.b_c:d-E9","event":"x.Y_z:0-9","data":1})");
}

// cJSON's limit counts the line's own object: data may nest 999 deep, not 1000.
TEST(PublishScan, NestsAsDeepAsCJsonAndNoDeeper) {
    std::size_t inside = CJSON_NESTING_LIMIT - 1;
    std::string deep = std::string(inside, '[') + std::string(inside, ']');
    expect_taken(publish(R"("data":)" + deep));
    std::string deeper = "[" + deep + "]";
    expect_declined(publish(R"("data":)" + deeper));
    EXPECT_EQ(rp::decode_request(publish(R"("data":)" + deeper)).error().code, "bad_json");
    std::string deep_elsewhere = std::string(inside, '[') + std::string(inside, ']');
    expect_taken(publish(R"("x":)" + deep_elsewhere + R"(,"data":1)"));
}

struct Unusual {
    const char* what;
    std::string line;
};

// Each is declined, whatever cJSON then makes of it (a request or an error).
TEST(PublishScan, DeclinesWhatIsUnusual) {
    const Unusual cases[] = {
        {"escaped key", publish(R"("d\u0061ta":1,"data":2)")},
        {"escaped key after data", publish(R"("data":1,"x\"y":2)")},
        {"escaped key, short escape", publish(R"("dat\/a":1,"data":2)")},
        {"escaped op", R"({"op":"publ\u0069sh","room":"A","event":"e","data":1})"},
        {"escaped room", R"({"op":"publish","room":"A\/B","event":"e","data":1})"},
        {"escaped room, valid", R"({"op":"publish","room":"\u0041","event":"e","data":1})"},
        {"escaped event", R"({"op":"publish","room":"A","event":"e\u002e","data":1})"},
        {"escaped id", publish(R"("id":"a\/b","data":1)")},
        {"\\u in data", publish(R"("data":"caf\u00e9")")},
        {"\\u in data, surrogates", publish(R"("data":"\ud83d\ude00")")},
        {"\\u in data, lone low surrogate", publish(R"("data":"\udc00")")},
        {"\\u in data, lone high surrogate", publish(R"("data":"\ud83dx")")},
        {"\\u in data, not hex", publish(R"("data":"\uzzzz")")},
        {"\\u0000 in data", publish(R"("data":"a\u0000b")")},
        {"\\u in another member", publish(R"("x":"\u00e9","data":1)")},
        {"raw tab in data", publish("\"data\":\"a\tb\"")},
        {"raw control in room", R"({"op":"publish","room":"A)"
                                "\x01"
                                R"(","event":"e","data":1})"},
        {"raw control in key", publish("\"d\x01\":1,\"data\":1")},
        {"raw control between tokens", publish("\"data\":\x01 1")},
        {"raw CR in data", publish("\"data\":[1,\r2]")},
        {"raw CR between members", publish("\"data\":1\r")},
        {"raw CR after the object", publish("\"data\":1") + "\r"},
        {"raw CR before the object", "\r" + publish("\"data\":1")},
        {"vertical tab between tokens", publish("\"data\":[1,\v2]")},
        {"NUL in a string", publish(R"("data":"a)" + "\0"s + R"(b")")},
        {"NUL after the object", publish("\"data\":1") + "\0"s},
        {"byte order mark", "\xef\xbb\xbf" + publish("\"data\":1")},
        {"trailing garbage", publish("\"data\":1") + " x"},
        {"second object", publish("\"data\":1") + "{}"},
        {"number 01", publish(R"("data":01)")},
        {"number 1.", publish(R"("data":1.)")},
        {"number -", publish(R"("data":-)")},
        {"number -.5", publish(R"("data":-.5)")},
        {"number 1e", publish(R"("data":[1e])")},
        {"number in another member", publish(R"("since":01,"data":1)")},
        {"literal nul", publish(R"("data":nul)")},
        {"duplicate op", R"({"op":"publish","op":"rooms","room":"A","event":"e","data":1})"},
        {"duplicate room", publish(R"("room":"B","data":1)")},
        {"duplicate event", publish(R"("event":"f","data":1)")},
        {"duplicate id", publish(R"("id":"a","id":"b","data":1)")},
        {"duplicate data", publish(R"("data":1,"data":2)")},
        {"other op", R"({"op":"rooms"})"},
        {"other op after fields", R"({"room":"A","event":"e","data":1,"op":"history"})"},
        {"unknown op", R"({"op":"explode","room":"A","event":"e","data":1})"},
        {"no op", R"({"room":"A","event":"e","data":1})"},
        {"op not a string", R"({"op":1,"room":"A","event":"e","data":1})"},
        {"no room", R"({"op":"publish","event":"e","data":1})"},
        {"no event", R"({"op":"publish","room":"A","data":1})"},
        {"no data", publish(R"("id":"k")")},
        {"room not a string", R"({"op":"publish","room":5,"event":"e","data":1})"},
        {"event not a string", R"({"op":"publish","room":"A","event":null,"data":1})"},
        {"id not a string", publish(R"("id":3,"data":1)")},
        {"invalid room", R"({"op":"publish","room":"a/b","event":"e","data":1})"},
        {"empty room", R"({"op":"publish","room":"","event":"e","data":1})"},
        {"invalid event", R"({"op":"publish","room":"A","event":"a b","data":1})"},
        {"not an object", R"([{"op":"publish","room":"A","event":"e","data":1}])"},
        {"cut short", publish(R"("data":{"a":1)")},
        {"trailing comma", publish(R"("data":1,)")},
        {"empty line", ""},
        {"blank line", "   "},
    };
    for (const Unusual& unusual : cases) {
        EXPECT_FALSE(rp::scan_publish(unusual.line).has_value()) << unusual.what;
    }
}

// Declined lines are cJSON's to answer: the same requests and the same errors as before.
TEST(PublishScan, DeclinedLinesGetCJsonsAnswer) {
    auto data_of = [](const std::string& line) { return rp::decode_request(line).value().data; };
    EXPECT_EQ(data_of(publish(R"("data":"caf\u00e9")")), R"("caf\u00e9")");
    EXPECT_EQ(data_of(publish(R"("data":1,"data":2)")), "1");
    EXPECT_EQ(data_of(publish(R"("d\u0061ta":[1, 2],"data":3)")), "[1,2]");
    EXPECT_EQ(data_of(publish(R"("data":01)")), "1");
    EXPECT_EQ(data_of(publish("\"data\":[1,\r2]")), "[1,2]");
    EXPECT_EQ(rp::decode_request(R"({"op":"publish","room":"\u0041","event":"e","data":1})")->room,
              "A");
    EXPECT_EQ(rp::decode_request(publish(R"("id":"a\/b","data":1)"))->id, "a/b");
    EXPECT_EQ(rp::decode_request(R"({"op":"rooms","cluster":true})")->cluster, true);

    const std::pair<std::string, const char*> errors[] = {
        {publish(R"("data":"\udc00")"), "bad_json"},
        {publish("\"data\":1") + " x", "bad_json"},
        {publish("\"data\":1") + "\0"s, "bad_json"},
        {publish(R"("data":-)"), "bad_json"},
        {R"({"op":"publ\u0069sh","room":"A\/B","event":"e","data":1})", "invalid_room"},
        {R"({"op":"publish","room":"A","event":"e\n","data":1})", "invalid_event"},
        {publish(R"("id":")" + std::string(201, 'i') + R"(","data":1)"), "invalid_id"},
        {R"({"room":"A","event":"e","data":1,"op":"kick"})", "missing_field"},
        {R"({"op":"explode","room":"A","event":"e","data":1})", "unknown_op"},
        {R"({"op":"publish","room":"A","event":null,"data":1})", "wrong_type"},
        {publish(R"("id":"k")"), "missing_field"},
        {R"([{"op":"publish"}])", "bad_request"},
        {"", "bad_json"},
    };
    for (const auto& [line, code] : errors) {
        auto request = rp::decode_request(line);
        ASSERT_FALSE(request.ok()) << line;
        EXPECT_EQ(request.error().code, code) << line;
        auto cjson = rp::decode_request_with_cjson(line);
        EXPECT_EQ(request.error().message, cjson.error().message) << line;
    }
}

}  // namespace

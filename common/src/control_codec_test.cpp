#include "roompush/control_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "publish_scan.h"

namespace {

TEST(ControlCodec, PublishRoundTrip) {
    auto data = rp::parse_json(R"({"jobId":"x","n":[1,2]})");
    ASSERT_TRUE(data.ok());
    std::string line = rp::encode_publish_request("A", "job.done", data->get(), "x:done");
    auto request = rp::decode_request(line);
    ASSERT_TRUE(request.ok()) << request.error().message;
    EXPECT_EQ(request->op, rp::ControlOp::publish);
    EXPECT_EQ(request->room, "A");
    EXPECT_EQ(request->event, "job.done");
    EXPECT_EQ(request->id, "x:done");
    EXPECT_EQ(request->data, R"({"jobId":"x","n":[1,2]})");
}

rp::Result<rp::ControlRequest> publish_with(const std::string& members) {
    return rp::decode_request(R"({"op":"publish","room":"A","event":"e",)" + members + "}");
}

std::string data_of(const std::string& members) {
    auto request = publish_with(members);
    EXPECT_TRUE(request.ok()) << members;
    return request ? request->data : "";
}

// Passed on as written: no re-formatting of numbers, escapes or spacing.
TEST(ControlCodec, PublishDataIsTheTextThatWasSent) {
    EXPECT_EQ(data_of(R"("data":{"n":12345678901234567890,"s":"a\u00e9"})"),
              R"({"n":12345678901234567890,"s":"a\u00e9"})");
    EXPECT_EQ(data_of(R"("data":  { "a" : [ 1.0e2 , "]\"}" ] }  ,"id":"k")"),
              R"({ "a" : [ 1.0e2 , "]\"}" ] })");
    EXPECT_EQ(data_of(R"("data":null)"), "null");
    EXPECT_EQ(data_of(R"("data":"text")"), R"("text")");
    EXPECT_EQ(data_of(R"("data":1,"data":2)"), "1");  // cJSON takes the first
}

// pushctl's form: the text it was given, trimmed, when it is plain JSON on one line.
TEST(ControlCodec, PublishRequestFromTextKeepsTheText) {
    auto line = rp::encode_publish_request_text(
        "A", "e", " {\"n\":12345678901234567890, \"f\":1.0e2}\n", "k");
    ASSERT_TRUE(line.ok());
    EXPECT_EQ(
        *line,
        R"({"op":"publish","room":"A","event":"e","id":"k","data":{"n":12345678901234567890, "f":1.0e2}})");
    EXPECT_EQ(rp::decode_request(*line)->data, R"({"n":12345678901234567890, "f":1.0e2})");

    auto pretty = rp::encode_publish_request_text("A", "e", "{\n  \"a\": [1, 2]\n}\n", "");
    ASSERT_TRUE(pretty.ok());
    EXPECT_EQ(*pretty, R"({"op":"publish","room":"A","event":"e","data":{"a":[1,2]}})");
    EXPECT_EQ(rp::encode_publish_request_text("A", "e", "01", "").value(),
              R"({"op":"publish","room":"A","event":"e","data":1})");
    EXPECT_EQ(rp::encode_publish_request_text("A", "e", "{nope", "").error().code, "bad_json");
    EXPECT_EQ(rp::encode_publish_request_text("A", "e", "", "").error().code, "bad_json");
}

// Where the text is unusual, cJSON's value printed compactly: still the value cJSON read.
TEST(ControlCodec, PublishDataFallsBackToCJsonsPrinting) {
    EXPECT_EQ(data_of(R"("d\u0061ta":[1, 2],"data":3)"), "[1,2]");
    EXPECT_EQ(data_of(R"("data":01)"), "1");
    EXPECT_EQ(data_of(R"("data":[1,2])"), "[1,2]");
    EXPECT_EQ(data_of("\"data\":\"a\tb\""), R"("a\tb")");
}

struct BadLine {
    std::string line;
    std::string code;
};

class ControlCodecBadLine : public testing::TestWithParam<BadLine> {};

TEST_P(ControlCodecBadLine, GetsItsDocumentedCode) {
    auto request = rp::decode_request(GetParam().line);
    ASSERT_FALSE(request.ok()) << GetParam().line;
    EXPECT_EQ(request.error().code, GetParam().code) << request.error().message;
    EXPECT_FALSE(request.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ControlCodecBadLine,
    testing::Values(
        BadLine{"not json", "bad_json"}, BadLine{"{\"op\":\"publish\"", "bad_json"},
        BadLine{"[1,2]", "bad_request"}, BadLine{"{}", "missing_field"},
        BadLine{R"({"op":7})", "wrong_type"}, BadLine{R"({"op":"explode"})", "unknown_op"},
        BadLine{R"({"op":"publish","event":"e","data":1})", "missing_field"},
        BadLine{R"({"op":"publish","room":"a/b","event":"e","data":1})", "invalid_room"},
        BadLine{R"({"op":"publish","room":5,"event":"e","data":1})", "wrong_type"},
        BadLine{R"({"op":"publish","room":"A","event":"a b","data":1})", "invalid_event"},
        BadLine{R"({"op":"publish","room":"A","event":"e"})", "missing_field"},
        BadLine{R"({"op":"publish","room":"A","event":"e","data":1,"id":3})", "wrong_type"},
        BadLine{std::string("{\"op\":\"rooms\"}\0", 15), "bad_json"}));

// Either path: a plain line is scan_publish's; a \u escape anywhere, or a number such as 01,
// sends it to cJSON's (whose data is then the text, or cJSON's printing of the value).
std::vector<std::string> publish_lines_around(const std::string& data) {
    return {R"({"op":"publish","room":"A","event":"e","data":)" + data + "}",
            R"({"op":"publish","room":"A","event":"e","x":"\u00e9","data":)" + data + "}",
            R"({"op":"publish","room":"A","event":"e","data":[01,)" + data + "]}"};
}

TEST(ControlCodec, PublishDataThatIsNotUtf8IsRefusedByEitherPath) {
    for (std::string data : {"\"caf\xE9\"", "{\"a\":\"\xC0\xAF\"}", "[\"\xED\xA0\x80\"]",
                             "\"\xF4\x90\x80\x80\"", "\"cut \xE2\x82\""}) {
        std::vector<std::string> lines = publish_lines_around(data);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            // The raw paths take the line as they would any other; decode_request refuses it.
            EXPECT_EQ(rp::scan_publish(lines[i]).has_value(), i == 0);
            EXPECT_TRUE(rp::decode_request_with_cjson(lines[i]).ok());
            auto request = rp::decode_request(lines[i]);
            ASSERT_FALSE(request.ok()) << testing::PrintToString(lines[i]);
            EXPECT_EQ(request.error().code, "invalid_utf8");
            EXPECT_NE(request.error().message.find("\"data\" is not valid UTF-8"),
                      std::string::npos);
        }
    }
}

TEST(ControlCodec, PublishDataInUtf8ArrivesIntact) {
    std::string data = "\"\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E\"";  // é € 𝄞
    std::vector<std::string> lines = publish_lines_around(data);
    EXPECT_EQ(rp::decode_request(lines[0])->data, data);
    EXPECT_EQ(rp::decode_request(lines[1])->data, data);
    EXPECT_EQ(rp::decode_request(lines[2])->data, "[1," + data + "]");
}

// The id never reaches a browser, and other ops carry no data.
TEST(ControlCodec, OnlyThePublishDataIsChecked) {
    EXPECT_EQ(data_of("\"id\":\"k\xFF\",\"data\":1"), "1");
    EXPECT_EQ(rp::decode_request("{\"op\":\"rooms\",\"x\":\"\xFF\"}")->op, rp::ControlOp::rooms);
}

TEST(ControlCodec, PublishRequestFromTextRefusesWhatIsNotUtf8) {
    EXPECT_EQ(rp::encode_publish_request_text("A", "e", "\"caf\xE9\"", "").error().code,
              "invalid_utf8");
    EXPECT_EQ(
        rp::encode_publish_request_text("A", "e", "{\n \"a\": \"\xFF\"\n}\n", "").error().code,
        "invalid_utf8");
    EXPECT_EQ(rp::encode_publish_request_text("A", "e", "\xFF", "").error().code, "bad_json");
    EXPECT_TRUE(rp::encode_publish_request_text("A", "e", "\"\xE2\x82\xAC\"", "").ok());
}

TEST(ControlCodec, ResponsesDecodeOnTheClientSide) {
    auto ack = rp::decode_response(rp::encode_publish_response({7, 2}));
    ASSERT_TRUE(ack.ok());
    auto decoded = rp::decode_publish_response(ack->get());
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->seq, 7u);
    EXPECT_EQ(decoded->delivered, 2u);

    auto error = rp::decode_response(rp::encode_error_response({"invalid_room", "bad id"}));
    ASSERT_FALSE(error.ok());
    EXPECT_EQ(error.error().code, "invalid_room");
    EXPECT_EQ(error.error().message, "bad id");

    EXPECT_EQ(rp::decode_response("HTTP/1.1 400 Bad Request").error().code, "bad_response");
}

TEST(ControlCodec, RoomsRoundTrip) {
    auto response =
        rp::decode_response(rp::encode_rooms_response({{"A", 2, 9, 0}, {"B", 0, 1, 0}}));
    ASSERT_TRUE(response.ok());
    auto rooms = rp::decode_rooms_response(response->get());
    ASSERT_TRUE(rooms.ok());
    ASSERT_EQ(rooms->size(), 2u);
    EXPECT_EQ((*rooms)[0].room, "A");
    EXPECT_EQ((*rooms)[0].members, 2u);
    EXPECT_EQ((*rooms)[1].seq, 1u);
}

}  // namespace

namespace {

TEST(ControlCodec, InspectionOpsDecodeTheirFields) {
    auto history = rp::decode_request(R"({"op":"history","room":"A","since":3,"limit":10})");
    ASSERT_TRUE(history.ok()) << history.error().message;
    EXPECT_EQ(history->op, rp::ControlOp::history);
    EXPECT_EQ(history->since, 3u);
    EXPECT_EQ(history->limit, 10u);

    auto tail = rp::decode_request(R"({"op":"tail","rooms":["A","B"],"since":0})");
    ASSERT_TRUE(tail.ok());
    EXPECT_EQ(tail->rooms, (std::vector<std::string>{"A", "B"}));
    auto tail_one = rp::decode_request(R"({"op":"tail","room":"A"})");
    ASSERT_TRUE(tail_one.ok());
    EXPECT_EQ(tail_one->rooms, (std::vector<std::string>{"A"}));

    auto kick = rp::decode_request(R"({"op":"kick","room":"A","member":12})");
    ASSERT_TRUE(kick.ok());
    EXPECT_EQ(kick->member, 12u);
    EXPECT_FALSE(rp::decode_request(R"({"op":"stats"})")->prometheus);
    EXPECT_TRUE(rp::decode_request(R"({"op":"stats","format":"prometheus"})")->prometheus);
    EXPECT_EQ(rp::decode_request(R"({"op":"stats","format":"xml"})").error().code, "bad_request");
}

TEST(ControlCodec, InspectionOpsRefuseBadFields) {
    EXPECT_EQ(rp::decode_request(R"({"op":"room"})").error().code, "missing_field");
    EXPECT_EQ(rp::decode_request(R"({"op":"history","room":"A","since":-1})").error().code,
              "wrong_type");
    EXPECT_EQ(rp::decode_request(R"({"op":"history","room":"A","limit":"x"})").error().code,
              "wrong_type");
    EXPECT_EQ(rp::decode_request(R"({"op":"tail","rooms":[]})").error().code, "bad_request");
    EXPECT_EQ(rp::decode_request(R"({"op":"tail","rooms":"A"})").error().code, "wrong_type");
    EXPECT_EQ(rp::decode_request(R"({"op":"tail","rooms":["ok","no way"]})").error().code,
              "invalid_room");
    EXPECT_EQ(rp::decode_request(R"({"op":"kick","room":"A"})").error().code, "missing_field");
    EXPECT_EQ(rp::decode_request(R"({"op":"kick","room":"A","member":0})").error().code,
              "wrong_type");
}

TEST(ControlCodec, RoomsAndRoomTakeACluster) {
    EXPECT_FALSE(rp::decode_request(R"({"op":"rooms"})")->cluster);
    EXPECT_TRUE(rp::decode_request(R"({"op":"rooms","cluster":true})")->cluster);
    EXPECT_TRUE(rp::decode_request(R"({"op":"room","room":"A","cluster":true})")->cluster);
    EXPECT_FALSE(rp::decode_request(R"({"op":"room","room":"A","cluster":false})")->cluster);
    EXPECT_EQ(rp::decode_request(R"({"op":"rooms","cluster":"yes"})").error().code, "wrong_type");
    EXPECT_EQ(rp::decode_request(R"({"op":"room","room":"A","cluster":1})").error().code,
              "wrong_type");
}

TEST(ControlCodec, EncodeRequestPutsOpFirst) {
    auto fields = rp::parse_json(R"({"room":"A","since":2})");
    EXPECT_EQ(rp::encode_request(rp::ControlOp::history, fields->get()),
              R"({"op":"history","room":"A","since":2})");
}

TEST(ControlCodec, DuplicateAckRoundTrips) {
    EXPECT_EQ(rp::encode_publish_response({4, 0, true}),
              R"({"ok":true,"seq":4,"delivered":0,"duplicate":true})");
    EXPECT_EQ(rp::encode_publish_response({9007199254740991, 12}),
              R"({"ok":true,"seq":9007199254740991,"delivered":12})");
    auto response = rp::decode_response(rp::encode_publish_response({4, 0, true}));
    ASSERT_TRUE(response.ok());
    EXPECT_TRUE(rp::decode_publish_response(response->get())->duplicate);
}

// The typed response carries `ok` beside the same bytes as before.
TEST(ControlCodec, ResponsesSayOkAsAFieldOverTheSameBytes) {
    EXPECT_EQ(rp::ControlResponse{}, rp::ControlResponse::success(R"({"ok":true})"));
    rp::ControlResponse failure = rp::ControlResponse::failure({"not_found", "no room A"});
    EXPECT_FALSE(failure.ok);
    EXPECT_EQ(failure.line, R"({"ok":false,"error":{"code":"not_found","message":"no room A"}})");
    EXPECT_EQ(failure.line, rp::encode_error_response({"not_found", "no room A"}));
    EXPECT_TRUE(rp::ControlResponse::success(rp::encode_publish_response({1, 0})).ok);

    EXPECT_EQ(rp::ControlResponse::parsed(failure.line), failure);
    EXPECT_TRUE(rp::ControlResponse::parsed(R"({"ok":true,"rooms":[]})").ok);
    EXPECT_FALSE(rp::ControlResponse::parsed(R"({ "ok" : false })").ok) << "read, not matched";
    EXPECT_FALSE(rp::ControlResponse::parsed("garbage").ok);
}

}  // namespace

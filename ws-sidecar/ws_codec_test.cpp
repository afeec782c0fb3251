#include "ws_codec.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

TEST(WsCodec, PathsLeadToARoomOrTheCommandEndpoint) {
    auto room = parse_ws_path("/ws/rooms/team-7:a");
    ASSERT_TRUE(room.ok());
    EXPECT_EQ(room->kind, WsTarget::Kind::room);
    EXPECT_EQ(room->room, "team-7:a");
    EXPECT_EQ(parse_ws_path("/ws")->kind, WsTarget::Kind::commands);
    EXPECT_EQ(parse_ws_path("/ws/rooms/a%2Fb").error().code, "invalid_room");
    EXPECT_EQ(parse_ws_path("/ws/rooms/").error().code, "invalid_room");
    EXPECT_EQ(parse_ws_path("/other").error().code, "not_found");
}

// encode_message writes the envelope by hand for speed: it must stay byte for byte what a cJSON
// tree of the same fields prints. `data` is text that goes in as it is, so the comparison gives
// it in the form cJSON prints (what decode_request produced before it kept the publisher's text).
TEST(WsCodec, MessageIsWhatCJsonWouldPrint) {
    auto parsed =
        parse_json(R"({"t":1732541234567,"s":"q\"uo\\te\u0001","n":[1,2.5,null],"o":{}})");
    ASSERT_TRUE(parsed.ok());
    for (const std::string& data :
         {to_json(parsed->get()), std::string("null"), std::string("\"s\"")}) {
        std::string text = encode_message(
            {"room:7.a-b", 1234567, "00ff00ff00ff00ff", "job.done", data, 1764000000123});
        JsonPtr expected = make_object();
        set_string(expected.get(), "type", "message");
        set_string(expected.get(), "room", "room:7.a-b");
        set_number(expected.get(), "seq", 1234567);
        set_string(expected.get(), "epoch", "00ff00ff00ff00ff");
        set_string(expected.get(), "event", "job.done");
        set_json(expected.get(), "data", std::move(*parse_json(data)));
        set_number(expected.get(), "ts", 1764000000123.0);
        EXPECT_EQ(text, to_json(expected.get()));
    }
    EXPECT_EQ(
        encode_message({"a\"b", 1, "e", "x", "null", 0}),
        R"({"type":"message","room":"a\"b","seq":1,"epoch":"e","event":"x","data":null,"ts":0})");
    MessageFields no_data{"A", 1, "e", "x"};
    EXPECT_EQ(
        encode_message(no_data),
        R"({"type":"message","room":"A","seq":1,"epoch":"e","event":"x","data":null,"ts":0})");
}

// Publishers' numbers keep their digits and their spelling; spacing and escapes stay too.
TEST(WsCodec, MessageCarriesTheDataTextAsItIs) {
    std::string data = R"({ "n" : 12345678901234567890, "f":1.0e2, "s":"a\u00e9" })";
    std::string text = encode_message({"A", 3, "ep", "job.done", data, 99});
    EXPECT_EQ(text,
              R"({"type":"message","room":"A","seq":3,"epoch":"ep","event":"job.done","data":)" +
                  data + R"(,"ts":99})");
    EXPECT_TRUE(parse_json(text).ok());
}

TEST(WsCodec, SubscribeCommandDecodes) {
    auto command = decode_client_command(R"({"op":"subscribe","room":"A","since":4,"epoch":"e1"})");
    ASSERT_TRUE(command.ok());
    EXPECT_EQ(command->op, ClientCommand::Op::subscribe);
    EXPECT_EQ(command->room, "A");
    EXPECT_EQ(command->since, 4u);
    EXPECT_EQ(command->epoch, "e1");
}

TEST(WsCodec, BadCommandsGetCodes) {
    EXPECT_EQ(decode_client_command("{").error().code, "bad_json");
    EXPECT_EQ(decode_client_command("3").error().code, "bad_request");
    EXPECT_EQ(decode_client_command(R"({"op":"dance","room":"A"})").error().code, "unknown_op");
    EXPECT_EQ(decode_client_command(R"({"op":"subscribe"})").error().code, "missing_field");
    EXPECT_EQ(decode_client_command(R"({"op":"subscribe","room":"a b"})").error().code,
              "invalid_room");
    EXPECT_EQ(decode_client_command(R"({"op":"subscribe","room":"A","since":-1})").error().code,
              "wrong_type");
    EXPECT_EQ(decode_client_command(R"({"op":"subscribe","room":"A","since":"x"})").error().code,
              "wrong_type");
}

TEST(WsCodec, MessageHasEveryDocumentedField) {
    std::string text = encode_message({"A", 3, "ep", "job.done", R"({"k":true})", 99});
    EXPECT_EQ(
        text,
        R"({"type":"message","room":"A","seq":3,"epoch":"ep","event":"job.done","data":{"k":true},"ts":99})");
}

}  // namespace
}  // namespace rp::sidecar

namespace rp::sidecar {
namespace {

TEST(WsCodec, ResumeQuery) {
    auto query = parse_ws_query("since=5&epoch=00ab&x=1&token=a.b-c_");
    ASSERT_TRUE(query.ok());
    EXPECT_EQ(query->since, 5u);
    EXPECT_EQ(query->epoch, "00ab");
    EXPECT_EQ(query->token, "a.b-c_");
    EXPECT_FALSE(parse_ws_query("")->since.has_value());
    EXPECT_EQ(parse_ws_query("since=-1").error().code, "bad_since");
    EXPECT_EQ(parse_ws_query("since=").error().code, "bad_since");
    EXPECT_EQ(parse_ws_query("since=99999999999999999999").error().code, "bad_since");
    EXPECT_EQ(parse_ws_query("epoch=a%20b").error().code, "bad_request");
}

}  // namespace
}  // namespace rp::sidecar

TEST(WsCodec, ClosePayloadsOnlyWhatAPeerMaySend) {
    auto close = [](unsigned code, std::string reason = "") {
        return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)} + reason;
    };
    EXPECT_TRUE(rp::sidecar::is_valid_close_payload(""));
    for (unsigned code : {1000u, 1001u, 1003u, 1007u, 1011u, 1014u, 3000u, 4999u}) {
        EXPECT_TRUE(rp::sidecar::is_valid_close_payload(close(code, "bye"))) << code;
    }
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 2999u, 5000u, 65535u}) {
        EXPECT_FALSE(rp::sidecar::is_valid_close_payload(close(code))) << code;
    }
    EXPECT_FALSE(rp::sidecar::is_valid_close_payload("\x03"));
    EXPECT_FALSE(rp::sidecar::is_valid_close_payload(close(1000, "\xff\xfe")));
}

TEST(WsCodec, PingNamesNoRoomAndIsAnsweredPong) {
    auto ping = rp::sidecar::decode_client_command(R"({"op":"ping"})");
    ASSERT_TRUE(ping.ok()) << ping.error().message;
    EXPECT_EQ(ping->op, rp::sidecar::ClientCommand::Op::ping);
    EXPECT_EQ(rp::sidecar::encode_pong(), R"({"type":"pong"})");
    EXPECT_EQ(rp::sidecar::decode_client_command(R"({"op":"pong"})").error().code, "unknown_op");
}

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
    auto data = parse_json(R"({"k":true})");
    std::string text = encode_message({"A", 3, "ep", "job.done", data->get(), 99});
    EXPECT_EQ(text,
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

#include "control_handler.h"

#include <gtest/gtest.h>

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

class ControlHandler : public testing::Test {
protected:
    SidecarMetrics metrics;
    RoomRegistry registry{{.history = {.max_messages = 2000}}, metrics};
    ControlContext context{registry, metrics, 1'000'000};

    ControlReply handle(const std::string& line, int64_t now_ms = 1'005'000) {
        auto request = decode_request(line);
        EXPECT_TRUE(request.ok()) << line;
        return handle_control(context, *request, now_ms);
    }
    static JsonPtr json_of(const ControlReply& reply) {
        return std::move(*parse_json(reply.response.line));
    }
    static int64_t number(const JsonPtr& json, const char* key) {
        return *require_integer(json.get(), key);
    }
};

TEST_F(ControlHandler, PublishIsAnsweredWithItsSeqAndWakesTheAudience) {
    SessionId member = registry.add_session("peer", 0);
    ASSERT_TRUE(registry.join(member, "A", {}).ok());
    ControlReply reply = handle(R"({"op":"publish","room":"A","event":"e","data":1})");
    EXPECT_EQ(reply.response, ControlResponse::success(R"({"ok":true,"seq":1,"delivered":1})"));
    EXPECT_EQ(reply.wake, std::vector<SessionId>{member});
}

TEST_F(ControlHandler, AnUnknownRoomIsAnErrorWithOkFalse) {
    for (const char* line :
         {R"({"op":"room","room":"nope"})", R"({"op":"history","room":"nope"})"}) {
        ControlReply reply = handle(line);
        EXPECT_FALSE(reply.response.ok) << line;
        EXPECT_EQ(decode_response(reply.response.line).error().code, "not_found");
    }
}

TEST_F(ControlHandler, HistoryGivesAtMostTheDefaultLimitWithoutALimit) {
    for (int i = 0; i < 1200; ++i) registry.publish("A", "e", "null", "", 0);
    JsonPtr all = json_of(handle(R"({"op":"history","room":"A"})"));
    const cJSON* messages = cJSON_GetObjectItemCaseSensitive(all.get(), "messages");
    EXPECT_EQ(cJSON_GetArraySize(messages), static_cast<int>(kDefaultHistoryLimit));
    JsonPtr some = json_of(handle(R"({"op":"history","room":"A","since":1195,"limit":3})"));
    messages = cJSON_GetObjectItemCaseSensitive(some.get(), "messages");
    ASSERT_EQ(cJSON_GetArraySize(messages), 3);
    EXPECT_EQ(number(JsonPtr(clone_json(cJSON_GetArrayItem(messages, 0))), "seq"), 1196);
}

TEST_F(ControlHandler, RoomListsItsMembers) {
    SessionId member = registry.add_session("10.0.0.1", 42);
    ASSERT_TRUE(registry.join(member, "A", {}).ok());
    JsonPtr room = json_of(handle(R"({"op":"room","room":"A"})"));
    const cJSON* members = cJSON_GetObjectItemCaseSensitive(room.get(), "members");
    ASSERT_EQ(cJSON_GetArraySize(members), 1);
    JsonPtr first(clone_json(cJSON_GetArrayItem(members, 0)));
    EXPECT_EQ(number(first, "id"), static_cast<int64_t>(member));
    EXPECT_EQ(*require_string(first.get(), "peer"), "10.0.0.1");
    EXPECT_EQ(number(first, "since"), 42);
}

TEST_F(ControlHandler, StatsHasEveryFigureWithItsValueAndTheUptime) {
    metrics.published = 7;
    metrics.control_errors = 3;
    JsonPtr stats = json_of(handle(R"({"op":"stats"})", 1'065'999));
    EXPECT_EQ(number(stats, "uptime_s"), 65);
    EXPECT_EQ(number(stats, "published"), 7);
    EXPECT_EQ(number(stats, "control_errors"), 3);
    EXPECT_EQ(number(stats, "broker_up"), 1);
    EXPECT_EQ(cJSON_GetArraySize(stats.get()), static_cast<int>(metric_specs().size()) + 1);

    JsonPtr text = json_of(handle(R"({"op":"stats","format":"prometheus"})"));
    std::string prometheus = *require_string(text.get(), "text");
    EXPECT_NE(prometheus.find("\nroompush_messages_published_total 7\n"), std::string::npos);
}

TEST_F(ControlHandler, KickClosesTheMemberAndSaysWhoToWake) {
    SessionId member = registry.add_session("peer", 0);
    ASSERT_TRUE(registry.join(member, "A", {}).ok());
    ControlReply missing = handle(R"({"op":"kick","room":"A","member":999})");
    EXPECT_FALSE(missing.response.ok);
    ControlReply kicked =
        handle(R"({"op":"kick","room":"A","member":)" + std::to_string(member) + "}");
    EXPECT_EQ(kicked.response, ControlResponse{});
    EXPECT_EQ(kicked.wake, std::vector<SessionId>{member});
    Session* session = registry.find(member);
    EXPECT_TRUE(session->closing());
    while (FramePtr frame = session->pop()) {
        if (frame->text().find(R"("code":"kicked")") != std::string_view::npos) return;
    }
    ADD_FAILURE() << "no kicked error frame";
}

TEST_F(ControlHandler, TailAndReloadAreNotTheLoopsToAnswer) {
    for (const char* line : {R"({"op":"tail","room":"A"})", R"({"op":"reload"})"}) {
        ControlReply reply = handle(line);
        EXPECT_FALSE(reply.response.ok);
        EXPECT_EQ(decode_response(reply.response.line).error().code, "unknown_op");
    }
}

}  // namespace
}  // namespace rp::sidecar

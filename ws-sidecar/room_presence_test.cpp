#include "room_presence.h"

#include <gtest/gtest.h>

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

std::string member(const char* user) { return std::string(R"({"user":")") + user + "\"}"; }

TEST(RoomPresence, JoinAndLeaveAreToldToTheOthersOnly) {
    RoomPresence presence(10);
    EXPECT_TRUE(presence.join("r", 1, member("a")).to.empty()) << "no one to tell";
    PresenceNotice joined = presence.join("r", 2, member("b"));
    EXPECT_EQ(joined.to, std::vector<SessionId>{1});
    EXPECT_EQ(joined.frame, R"({"type":"join","room":"r","member":{"user":"b"}})");
    PresenceNotice left = presence.leave("r", 1);
    EXPECT_EQ(left.to, std::vector<SessionId>{2});
    EXPECT_EQ(left.frame, R"({"type":"leave","room":"r","member":{"user":"a"}})");
    EXPECT_TRUE(presence.leave("r", 1).to.empty()) << "leaving twice tells nothing";
    EXPECT_TRUE(presence.leave("other", 2).to.empty());
}

TEST(RoomPresence, JoiningAgainUpdatesWithoutANotice) {
    RoomPresence presence(10);
    presence.join("r", 1, member("a"));
    presence.join("r", 2, member("b"));
    EXPECT_TRUE(presence.join("r", 2, member("b2")).to.empty());
    auto answer = parse_json(presence.answer("r"));
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(presence.answer("r"),
              R"({"type":"presence","room":"r","count":2,"members":[{"user":"a"},{"user":"b2"}]})");
}

TEST(RoomPresence, PastTheBoundRoomsCountOncePerFlush) {
    RoomPresence presence(2);
    presence.join("big", 1, member("a"));
    EXPECT_EQ(presence.join("big", 2, member("b")).to.size(), 1u) << "at the bound: named";
    EXPECT_TRUE(presence.join("big", 3, member("c")).to.empty()) << "past it: counted";
    EXPECT_TRUE(presence.join("big", 4, member("d")).to.empty());
    auto counts = presence.flush_counts();
    ASSERT_EQ(counts.size(), 1u);
    EXPECT_EQ(counts[0].to.size(), 4u);
    EXPECT_EQ(counts[0].frame, R"({"type":"presence_count","room":"big","count":4})");
    EXPECT_TRUE(presence.flush_counts().empty()) << "nothing changed since";
    EXPECT_TRUE(presence.leave("big", 4).to.empty());
    EXPECT_EQ(presence.flush_counts().size(), 1u);
    auto answer = parse_json(presence.answer("big"));
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(answer->get(), "members")), 2)
        << "the answer names at most the bound";
    EXPECT_EQ(cJSON_GetObjectItem(answer->get(), "count")->valueint, 3);
}

TEST(RoomPresence, AnEmptyRoomAnswersNobody) {
    RoomPresence presence(5);
    EXPECT_EQ(presence.answer("none"),
              R"({"type":"presence","room":"none","count":0,"members":[]})");
    EXPECT_FALSE(presence.present("none", 1));
}

}  // namespace
}  // namespace rp::sidecar

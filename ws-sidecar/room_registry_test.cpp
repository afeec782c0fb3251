#include "room_registry.h"

#include <gtest/gtest.h>

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

JsonPtr data_of(const char* text) { return std::move(*parse_json(text)); }

TEST(RoomRegistry, PublishReachesEveryMemberOfTheRoomAndNoOneElse) {
    RoomRegistry registry({1 << 20, 8});
    SessionId a1 = registry.add_session("a1");
    SessionId a2 = registry.add_session("a2");
    SessionId b = registry.add_session("b");
    ASSERT_TRUE(registry.join(a1, "A").ok());
    ASSERT_TRUE(registry.join(a2, "A").ok());
    ASSERT_TRUE(registry.join(b, "B").ok());

    auto data = data_of(R"({"x":1})");
    PublishOutcome outcome = registry.publish("A", "job.done", data.get(), 1000);
    EXPECT_EQ(outcome.seq, 1u);
    EXPECT_EQ(outcome.delivered, 2u);
    EXPECT_FALSE(registry.find(b)->has_pending());

    FramePtr first = registry.find(a1)->pop();
    FramePtr second = registry.find(a2)->pop();
    EXPECT_EQ(first.get(), second.get()) << "one shared frame, not a copy per member";
    auto message = parse_json(first->text());
    ASSERT_TRUE(message.ok());
    EXPECT_EQ(*require_string(message->get(), "type"), "message");
    EXPECT_EQ(*require_integer(message->get(), "seq"), 1);
    EXPECT_EQ(*require_string(message->get(), "event"), "job.done");
}

TEST(RoomRegistry, SeqGrowsByOneWhileTheRoomLives) {
    RoomRegistry registry({1 << 20, 8});
    SessionId s = registry.add_session("s");
    auto joined = registry.join(s, "R");
    ASSERT_TRUE(joined.ok());
    EXPECT_EQ(joined->head_seq, 0u);
    for (uint64_t expected = 1; expected <= 5; ++expected) {
        EXPECT_EQ(registry.publish("R", "e", nullptr, 0).seq, expected);
    }
    auto rooms = registry.summaries();
    ASSERT_EQ(rooms.size(), 1u);
    EXPECT_EQ(rooms[0].seq, 5u);
    EXPECT_EQ(rooms[0].members, 1u);
}

TEST(RoomRegistry, EmptyRoomsAreErasedAndComeBackUnderANewEpoch) {
    RoomRegistry registry({1 << 20, 8});
    SessionId s = registry.add_session("s");
    std::string first_epoch = registry.join(s, "R")->epoch;
    registry.remove_session(s);
    EXPECT_TRUE(registry.summaries().empty());
    SessionId t = registry.add_session("t");
    EXPECT_NE(registry.join(t, "R")->epoch, first_epoch);
}

TEST(RoomRegistry, SlowConsumerIsDroppedWithoutTouchingOthers) {
    RoomRegistry registry({300, 8});
    SessionId slow = registry.add_session("slow");
    SessionId fast = registry.add_session("fast");
    ASSERT_TRUE(registry.join(slow, "R").ok());
    ASSERT_TRUE(registry.join(fast, "R").ok());
    auto data = data_of(R"({"pad":"0123456789012345678901234567890123456789"})");
    for (int i = 0; i < 10; ++i) {
        registry.publish("R", "e", data.get(), 0);
        while (registry.find(fast)->pop()) {
        }
    }
    auto close = registry.find(slow)->due_close();
    ASSERT_TRUE(close.has_value());
    EXPECT_EQ(close->code, CloseCode::try_again_later);
    EXPECT_EQ(registry.find(slow)->queued_bytes(), 0u);
    EXPECT_FALSE(registry.find(fast)->closing());
}

TEST(RoomRegistry, RoomsPerSessionAreLimited) {
    RoomRegistry registry({1 << 20, 2});
    SessionId s = registry.add_session("s");
    EXPECT_TRUE(registry.join(s, "a").ok());
    EXPECT_TRUE(registry.join(s, "b").ok());
    EXPECT_TRUE(registry.join(s, "a").ok()) << "re-joining is not a new room";
    auto third = registry.join(s, "c");
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.error().code, "too_many_rooms");
    EXPECT_TRUE(registry.leave(s, "a"));
    EXPECT_TRUE(registry.join(s, "c").ok());
}

}  // namespace
}  // namespace rp::sidecar

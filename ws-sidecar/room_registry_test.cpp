#include "room_registry.h"

#include <gtest/gtest.h>

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

class Registry : public testing::Test {
protected:
    SidecarMetrics metrics;
    RegistryLimits limits{1 << 20, 8, HistoryLimits{100, 1 << 20, 60000}};
    RoomRegistry registry{limits, metrics};

    SessionId joined(const std::string& room, JoinRequest request = {}) {
        SessionId id = registry.add_session("peer", 0);
        EXPECT_TRUE(registry.join(id, room, request).ok());
        return id;
    }
    // The JSON objects queued for a session, in order.
    std::vector<JsonPtr> drain(SessionId id) {
        std::vector<JsonPtr> out;
        while (FramePtr frame = registry.find(id)->pop())
            out.push_back(std::move(*parse_json(frame->text())));
        return out;
    }
    // Rooms PREFIX0..PREFIX(count-1), each with one member and one message retained at time 0.
    std::vector<SessionId> rooms_with_a_member(const std::string& prefix, int count) {
        std::vector<SessionId> members;
        for (int room = 0; room < count; ++room) {
            std::string name = prefix + std::to_string(room);
            members.push_back(joined(name));
            registry.publish(name, "e", "null", "", 0);
        }
        return members;
    }
    static std::string type_of(const JsonPtr& json) { return *require_string(json.get(), "type"); }
    static int64_t seq_of(const JsonPtr& json) { return *require_integer(json.get(), "seq"); }
};

TEST_F(Registry, PublishReachesEveryMemberOfTheRoomAndNoOneElse) {
    SessionId a1 = joined("A");
    SessionId a2 = joined("A");
    SessionId b = joined("B");
    for (SessionId id : {a1, a2, b}) ASSERT_EQ(type_of(drain(id).at(0)), "subscribed");

    // The publisher's text, as it came: the frame carries it, not a re-printing of it.
    std::string_view data = R"({"n":12345678901234567890, "f":1.0e2})";
    PublishOutcome outcome = registry.publish("A", "job.done", data, "", 1000);
    EXPECT_EQ(outcome.seq, 1u);
    EXPECT_EQ(outcome.delivered, 2u);
    EXPECT_FALSE(registry.find(b)->has_pending());

    FramePtr first = registry.find(a1)->pop();
    FramePtr second = registry.find(a2)->pop();
    EXPECT_EQ(first.get(), second.get()) << "one shared frame, not a copy per member";
    auto message = parse_json(first->text());
    EXPECT_EQ(*require_string(message->get(), "event"), "job.done");
    EXPECT_NE(first->text().find(R"("data":{"n":12345678901234567890, "f":1.0e2},"ts":1000})"),
              std::string_view::npos)
        << first->text();
    EXPECT_EQ(metrics.delivered.load(), 2u);
}

TEST_F(Registry, SeqGrowsByOneAndHistoryIsRetained) {
    SessionId s = joined("R");
    for (uint64_t expected = 1; expected <= 5; ++expected) {
        EXPECT_EQ(registry.publish("R", "e", "null", "", 0).seq, expected);
    }
    auto rooms = registry.summaries();
    ASSERT_EQ(rooms.size(), 1u);
    EXPECT_EQ(rooms[0].seq, 5u);
    EXPECT_EQ(rooms[0].members, 1u);
    EXPECT_EQ(rooms[0].retained, 5u);
    registry.remove_session(s);
    EXPECT_EQ(registry.summaries().size(), 1u) << "history keeps the room";
}

TEST_F(Registry, ResumeReplaysExactlyWhatWasMissed) {
    SessionId first = joined("R");
    std::string epoch = *require_string(drain(first).at(0).get(), "epoch");
    registry.publish("R", "e", "null", "", 0);
    registry.remove_session(first);
    for (int i = 0; i < 5; ++i) registry.publish("R", "e", "null", "", 0);

    SessionId back = joined("R", JoinRequest{1, epoch, false});
    auto frames = drain(back);
    ASSERT_EQ(frames.size(), 6u);
    EXPECT_EQ(type_of(frames[0]), "subscribed");
    EXPECT_EQ(seq_of(frames[0]), 6);
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(seq_of(frames[i]), i + 1);

    SessionId stale = joined("R", JoinRequest{1, "other-epoch", false});
    auto reset = drain(stale);
    ASSERT_EQ(reset.size(), 8u) << "subscribed, reset, all 6 retained";
    EXPECT_EQ(type_of(reset[1]), "reset");
    EXPECT_EQ(metrics.resets.load(), 1u);
}

TEST_F(Registry, ExpiredRoomsComeBackUnderANewEpoch) {
    SessionId s = joined("R");
    std::string first_epoch = *require_string(drain(s).at(0).get(), "epoch");
    registry.publish("R", "e", "null", "", 0);
    registry.remove_session(s);
    registry.expire(1000);
    EXPECT_EQ(registry.summaries().size(), 1u);
    registry.expire(61000);
    EXPECT_TRUE(registry.summaries().empty());
    SessionId t = joined("R");
    EXPECT_NE(*require_string(drain(t).at(0).get(), "epoch"), first_epoch);
}

TEST_F(Registry, ExpiryInStepsFinishesEveryRoomAcrossCalls) {
    for (int room = 0; room < 5; ++room) {
        for (int n = 0; n < 10; ++n)
            registry.publish("R" + std::to_string(room), "e", "null", "", 0);
    }
    SessionId member = joined("R2");
    int calls = 0;
    while (!registry.expire(61000, {2, 1000}) && calls < 100) ++calls;
    EXPECT_EQ(calls, 2) << "5 rooms, 2 a call: the third call finishes the round";
    ASSERT_EQ(registry.summaries().size(), 1u) << "emptied rooms without members are gone";
    EXPECT_EQ(registry.summaries()[0].room, "R2");
    EXPECT_EQ(registry.summaries()[0].retained, 0u);

    for (int room = 0; room < 3; ++room) {
        for (int n = 0; n < 10; ++n)
            registry.publish("M" + std::to_string(room), "e", "null", "", 0);
    }
    calls = 0;
    while (!registry.expire(122000, {100, 4}) && calls < 100) ++calls;
    EXPECT_EQ(calls, 7) << "30 messages, 4 a call: the eighth call finishes";
    EXPECT_EQ(registry.summaries().size(), 1u);
    EXPECT_TRUE(registry.is_member(member, "R2"));
}

TEST_F(Registry, AnExpiryRoundEndsWhenRoomsOutnumberOneStepAndEveryRoomStays) {
    rooms_with_a_member("K", 10);
    for (int round = 0; round < 2; ++round) {
        int calls = 1;
        while (!registry.expire(61000 + round, {3, 1000}) && calls < 100) ++calls;
        EXPECT_EQ(calls, 4) << "10 rooms, 3 a call, round " << round;
    }
    for (const RoomSummary& room : registry.summaries()) EXPECT_EQ(room.retained, 0u) << room.room;
    EXPECT_EQ(registry.summaries().size(), 10u) << "rooms with members stay";
}

TEST_F(Registry, MembersLeavingInTheMiddleOfARoundDoNotStopIt) {
    std::vector<SessionId> members = rooms_with_a_member("W", 6);
    EXPECT_FALSE(registry.expire(61000, {2, 1000}));
    // Every member leaves: each room still has its (expired, unvisited or visited) history.
    for (SessionId member : members) registry.remove_session(member);
    int calls = 1;
    while (!registry.expire(61000, {2, 1000}) && calls < 100) ++calls;
    EXPECT_LE(calls, 2) << "4 rooms were left to visit";
    EXPECT_TRUE(registry.summaries().empty()) << "no room was skipped by the round";
}

TEST_F(Registry, RepeatedIdIsAckedWithTheOriginalSeqAndNotDelivered) {
    SessionId s = joined("R");
    drain(s);
    PublishOutcome first = registry.publish("R", "e", "null", "job:done", 0);
    PublishOutcome again = registry.publish("R", "e", "null", "job:done", 0);
    EXPECT_EQ(again.seq, first.seq);
    EXPECT_TRUE(again.duplicate);
    EXPECT_EQ(again.delivered, 0u);
    EXPECT_EQ(drain(s).size(), 1u);
    EXPECT_EQ(registry.publish("R", "e", "null", "other", 0).seq, first.seq + 1);
}

TEST(RegistryIds, AMessageTooBigForTheHistoryIsStillDeliveredOncePerId) {
    SidecarMetrics metrics;
    // 64 bytes of history: below any message frame, so nothing is retained.
    RoomRegistry registry{RegistryLimits{1 << 20, 8, HistoryLimits{100, 64, 60000}}, metrics};
    SessionId s = registry.add_session("peer", 0);
    ASSERT_TRUE(registry.join(s, "R", {}).ok());
    while (registry.find(s)->pop()) {
    }
    std::string_view data = R"({"text":"larger than the whole history budget"})";
    PublishOutcome first = registry.publish("R", "e", data, "job:big", 0);
    PublishOutcome retry = registry.publish("R", "e", data, "job:big", 0);
    EXPECT_TRUE(retry.duplicate);
    EXPECT_EQ(retry.seq, first.seq);
    int delivered = 0;
    while (registry.find(s)->pop()) ++delivered;
    EXPECT_EQ(delivered, 1);
}

TEST_F(Registry, SlowConsumerIsDroppedWithoutTouchingOthers) {
    RegistryLimits small{300, 8, {}};
    RoomRegistry tight(small, metrics);
    SessionId slow = tight.add_session("slow", 0);
    SessionId fast = tight.add_session("fast", 0);
    ASSERT_TRUE(tight.join(slow, "R", {}).ok());
    ASSERT_TRUE(tight.join(fast, "R", {}).ok());
    std::string_view data = R"({"pad":"0123456789012345678901234567890123456789"})";
    for (int i = 0; i < 10; ++i) {
        tight.publish("R", "e", data, "", 0);
        while (tight.find(fast)->pop()) {
        }
    }
    auto close = tight.find(slow)->due_close();
    ASSERT_TRUE(close.has_value());
    EXPECT_EQ(close->code, CloseCode::try_again_later);
    EXPECT_EQ(tight.find(slow)->queued_bytes(), 0u);
    EXPECT_FALSE(tight.find(fast)->closing());
    EXPECT_EQ(metrics.slow_consumer_closes.load(), 1u);
}

TEST_F(Registry, RoomsPerSessionAreLimited) {
    RegistryLimits two{1 << 20, 2, {}};
    RoomRegistry limited(two, metrics);
    SessionId s = limited.add_session("s", 0);
    EXPECT_TRUE(limited.join(s, "a", {}).ok());
    EXPECT_TRUE(limited.join(s, "b", {}).ok());
    EXPECT_TRUE(limited.join(s, "a", {}).ok()) << "re-joining is not a new room";
    auto third = limited.join(s, "c", {});
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.error().code, "too_many_rooms");
    EXPECT_TRUE(limited.leave(s, "a"));
    EXPECT_TRUE(limited.join(s, "c", {}).ok());
}

TEST_F(Registry, DetailAndHistoryViews) {
    SessionId s = joined("R");
    registry.publish("R", "e", "null", "", 0);
    registry.publish("R", "e", "null", "", 0);
    auto detail = registry.detail("R");
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->seq, 2u);
    ASSERT_EQ(detail->members.size(), 1u);
    EXPECT_EQ(detail->members[0].id, s);
    EXPECT_EQ(registry.history("R", 1, 10)->frames.size(), 1u);
    EXPECT_FALSE(registry.detail("nope").has_value());
}

}  // namespace
}  // namespace rp::sidecar

namespace rp::sidecar {
namespace {}  // namespace
}  // namespace rp::sidecar

#include "session.h"

#include <gtest/gtest.h>

#include <string>

namespace rp::sidecar {
namespace {

FramePtr frame_of(std::size_t bytes, char fill = 'x') {
    return make_frame(std::string(bytes, fill));
}

TEST(FrameRing, KeepsOrderAcrossGrowthAndWrapAround) {
    FrameRing ring;
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; ++round) {  // push 3, pop 2: the head walks round the ring
        for (int i = 0; i < 3; ++i) ring.push_back(make_frame(std::to_string(next_in++)));
        for (int i = 0; i < 2; ++i) EXPECT_EQ(ring.pop_front()->text(), std::to_string(next_out++));
    }
    while (!ring.empty()) EXPECT_EQ(ring.pop_front()->text(), std::to_string(next_out++));
    EXPECT_EQ(next_out, next_in);
    EXPECT_EQ(ring.pop_front(), nullptr);
}

TEST(Session, QueuesUpToItsLimitThenDropsEverythingAndClosesWith1013) {
    Session session(1, "peer", 100, 0);
    EXPECT_EQ(session.enqueue(frame_of(60)), SendResult::queued);
    EXPECT_EQ(session.enqueue(frame_of(40)), SendResult::queued) << "exactly the limit fits";
    EXPECT_EQ(session.queued_bytes(), 100u);
    EXPECT_EQ(session.enqueue(frame_of(1)), SendResult::dropped);
    EXPECT_TRUE(session.overflowed_now());
    EXPECT_FALSE(session.overflowed_now()) << "said once";
    EXPECT_EQ(session.queued_bytes(), 0u) << "a slow consumer holds no memory";
    auto close = session.due_close();
    ASSERT_TRUE(close.has_value());
    EXPECT_EQ(close->code, CloseCode::try_again_later);
}

TEST(Session, ACloseAfterDrainWaitsForTheQueueAndAnImmediateOneWins) {
    Session session(1, "peer", 1000, 0);
    session.enqueue(frame_of(10));
    session.request_close(CloseCode::policy, "kicked", true);
    EXPECT_EQ(session.enqueue(frame_of(10)), SendResult::dropped)
        << "nothing new once closing: a client that keeps reading would never reach its close";
    EXPECT_FALSE(session.due_close()) << "the error frame goes first";
    session.pop();
    ASSERT_TRUE(session.due_close());
    EXPECT_EQ(session.due_close()->code, CloseCode::policy);

    Session shutting(2, "peer", 1000, 0);
    shutting.enqueue(frame_of(10));
    shutting.request_close(CloseCode::going_away, "bye", false);
    shutting.request_close(CloseCode::policy, "later", true);
    ASSERT_TRUE(shutting.due_close());
    EXPECT_EQ(shutting.due_close()->code, CloseCode::going_away);
    EXPECT_FALSE(shutting.has_pending()) << "an immediate close drops the queue";
}

TEST(Session, RightsAreKeptOnlyForRoomsThatGrantSomething) {
    Session session(1, "peer", 1000, 0);
    session.set_rights("a", {});
    EXPECT_EQ(session.rights("a"), nullptr);
    session.set_rights("a", {.publish = true, .user = "ann"});
    session.set_rights("b", {.presence = true, .info = R"({"x":1})"});
    ASSERT_NE(session.rights("a"), nullptr);
    EXPECT_EQ(session.rights("a")->user, "ann");
    EXPECT_TRUE(session.rights("b")->presence);
    session.set_rights("a", {});
    EXPECT_EQ(session.rights("a"), nullptr);
    EXPECT_NE(session.rights("b"), nullptr);
}

}  // namespace
}  // namespace rp::sidecar

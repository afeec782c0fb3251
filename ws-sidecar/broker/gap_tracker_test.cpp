#include "gap_tracker.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

using Verdict = GapTracker::Verdict;

TEST(GapTracker, NothingIsDeliveredWhileLoading) {
    GapTracker tracker;
    EXPECT_EQ(tracker.offer(1), Verdict::gap);
    EXPECT_FALSE(tracker.start_fill());  // the load itself will answer
    tracker.loaded(0);
    EXPECT_TRUE(tracker.start_fill());  // seq 1 was seen: fetch it
    EXPECT_TRUE(tracker.accept(1));
    tracker.fill_done(1);
    EXPECT_FALSE(tracker.start_fill());
    EXPECT_EQ(tracker.delivered(), 1u);
}

TEST(GapTracker, ConsecutiveMessagesAreDeliveredAndRepeatsDropped) {
    GapTracker tracker;
    tracker.loaded(5);
    EXPECT_EQ(tracker.offer(5), Verdict::duplicate);
    EXPECT_EQ(tracker.offer(6), Verdict::deliver);
    EXPECT_EQ(tracker.offer(7), Verdict::deliver);
    EXPECT_EQ(tracker.offer(7), Verdict::duplicate);
    EXPECT_FALSE(tracker.start_fill());
}

TEST(GapTracker, AGapIsFilledFromTheStreamOnceAndInOrder) {
    GapTracker tracker;
    tracker.loaded(1);
    EXPECT_EQ(tracker.offer(4), Verdict::gap);
    EXPECT_TRUE(tracker.start_fill());
    EXPECT_EQ(tracker.offer(5), Verdict::gap);  // still missing 2, 3
    EXPECT_FALSE(tracker.start_fill());         // one fill at a time
    for (uint64_t seq : {2, 3, 4, 5}) EXPECT_TRUE(tracker.accept(seq));
    EXPECT_FALSE(tracker.accept(5));
    tracker.fill_done(5);
    EXPECT_EQ(tracker.offer(5), Verdict::duplicate);
    EXPECT_EQ(tracker.offer(6), Verdict::deliver);
    EXPECT_EQ(tracker.lost(), 0u);
}

TEST(GapTracker, AMessagePublishedAfterTheFillReadIsFetchedAgain) {
    GapTracker tracker;
    tracker.loaded(0);
    EXPECT_EQ(tracker.offer(2), Verdict::gap);
    EXPECT_TRUE(tracker.start_fill());
    EXPECT_EQ(tracker.offer(4), Verdict::gap);  // arrives while the fill is out
    EXPECT_TRUE(tracker.accept(1));
    EXPECT_TRUE(tracker.accept(2));
    tracker.fill_done(2);  // the stream was read before 3 and 4 were added
    EXPECT_TRUE(tracker.start_fill());
}

TEST(GapTracker, TrimmedMessagesAreCountedAsLost) {
    GapTracker tracker;
    tracker.loaded(10);
    tracker.offer(30);
    ASSERT_TRUE(tracker.start_fill());
    EXPECT_TRUE(tracker.accept(25));  // 11..24 were trimmed away
    for (uint64_t seq = 26; seq <= 30; ++seq) EXPECT_TRUE(tracker.accept(seq));
    tracker.fill_done(30);
    EXPECT_EQ(tracker.lost(), 14u);
    EXPECT_EQ(tracker.delivered(), 30u);
}

TEST(GapTracker, AResubscribeChecksTheStreamEvenWithoutASign) {
    GapTracker tracker;
    tracker.loaded(3);
    EXPECT_FALSE(tracker.start_fill());
    tracker.suspect_gap();
    EXPECT_TRUE(tracker.start_fill());
    tracker.fill_done(3);  // nothing was missed
    EXPECT_FALSE(tracker.start_fill());
    EXPECT_EQ(tracker.lost(), 0u);
}

}  // namespace
}  // namespace rp::sidecar

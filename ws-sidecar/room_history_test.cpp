#include "room_history.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

RetainedMessage message(uint64_t seq, int64_t ts = 0, std::string id = "", std::size_t size = 10) {
    return {seq, ts, std::move(id), make_frame(std::string(size, 'm'))};
}

std::vector<uint64_t> seqs(const RoomHistory& history, const std::vector<FramePtr>& frames) {
    std::vector<uint64_t> out;
    for (const FramePtr& frame : frames) {
        for (const RetainedMessage& m : history.messages()) {
            if (m.frame == frame) out.push_back(m.seq);
        }
    }
    return out;
}

TEST(RoomHistory, KeepsTheLastNAndTheirIds) {
    HistoryLimits limits{3, 1 << 20, 1000};
    RoomHistory history(limits);
    for (uint64_t s = 1; s <= 5; ++s) history.append(message(s, 0, "id" + std::to_string(s)));
    EXPECT_EQ(history.size(), 3u);
    EXPECT_EQ(history.messages().front().seq, 3u);
    EXPECT_FALSE(history.seq_of("id2").has_value()) << "evicted ids are forgotten";
    EXPECT_EQ(history.seq_of("id4"), 4u);
}

TEST(RoomHistory, AMessageTooBigToRetainKeepsItsIdUntilCountOrAgeForgetIt) {
    HistoryLimits limits{2, 25, 1000};
    RoomHistory history(limits);
    history.append(message(1, 0, "big", 100));
    EXPECT_TRUE(history.empty()) << "100 bytes > 25: not retained";
    EXPECT_EQ(history.seq_of("big"), 1u) << "but a retry of it is still recognised";
    EXPECT_TRUE(history.remembers_ids());
    history.append(message(2, 10, "a"));
    history.append(message(3, 20, "b"));
    EXPECT_FALSE(history.seq_of("big").has_value()) << "two newer keys: forgotten by count";
    EXPECT_EQ(history.seq_of("a"), 2u);
    history.expire(1015);
    EXPECT_FALSE(history.seq_of("a").has_value()) << "older than the TTL";
    EXPECT_EQ(history.seq_of("b"), 3u);
    history.expire(5000);
    EXPECT_FALSE(history.remembers_ids());
}

TEST(RoomHistory, BoundedInBytesAndAge) {
    HistoryLimits limits{100, 25, 1000};
    RoomHistory history(limits);
    history.append(message(1, 0));
    history.append(message(2, 500));
    history.append(message(3, 900));
    EXPECT_EQ(history.size(), 2u) << "30 bytes > 25";
    EXPECT_LE(history.bytes(), 25u);
    history.expire(1600);
    EXPECT_EQ(history.size(), 1u);
    EXPECT_EQ(history.messages().front().seq, 3u);
    history.expire(5000);
    EXPECT_TRUE(history.empty());
}

TEST(RoomHistory, ExpiryWithABudgetDropsNoMoreThanItAndGoesOnNextTime) {
    HistoryLimits limits{100, 1 << 20, 1000};
    RoomHistory history(limits);
    for (uint64_t s = 1; s <= 5; ++s) history.append(message(s, 0, "id" + std::to_string(s)));
    history.append(message(6, 900));
    std::size_t budget = 3;
    EXPECT_FALSE(history.expire(1500, budget)) << "5 messages and 5 ids are due";
    EXPECT_EQ(budget, 0u);
    EXPECT_EQ(history.messages().front().seq, 4u);
    budget = 6;
    EXPECT_FALSE(history.expire(1500, budget)) << "2 messages, then 4 of the 5 ids";
    EXPECT_EQ(history.messages().front().seq, 6u) << "not due yet";
    EXPECT_TRUE(history.seq_of("id5").has_value());
    budget = 6;
    EXPECT_TRUE(history.expire(1500, budget));
    EXPECT_EQ(budget, 5u) << "the last id";
    EXPECT_FALSE(history.remembers_ids());
    EXPECT_EQ(history.size(), 1u);
}

class Resume : public testing::Test {
protected:
    HistoryLimits limits{100, 1 << 20, 1000};
    RoomHistory history{limits};
    void fill(uint64_t from, uint64_t to) {
        for (uint64_t s = from; s <= to; ++s) history.append(message(s));
    }
};

TEST_F(Resume, NoSinceMeansLiveOnly) {
    fill(1, 5);
    ResumePlan plan = history.plan_resume(5, "E", std::nullopt, "");
    EXPECT_FALSE(plan.reset);
    EXPECT_TRUE(plan.replay.empty());
}

TEST_F(Resume, ExactlyTheMissedMessagesInOrder) {
    fill(1, 10);
    ResumePlan plan = history.plan_resume(10, "E", 5, "E");
    EXPECT_FALSE(plan.reset);
    EXPECT_EQ(seqs(history, plan.replay), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
    EXPECT_TRUE(history.plan_resume(10, "E", 10, "E").replay.empty());
    EXPECT_FALSE(history.plan_resume(10, "E", 10, "E").reset);
}

TEST_F(Resume, StaleEpochIsAResetWithWhatIsRetained) {
    fill(1, 3);
    ResumePlan plan = history.plan_resume(3, "E2", 2, "E1");
    EXPECT_TRUE(plan.reset);
    EXPECT_EQ(seqs(history, plan.replay), (std::vector<uint64_t>{1, 2, 3}));
    EXPECT_TRUE(history.plan_resume(3, "E2", 0, "").reset) << "since without epoch";
}

TEST_F(Resume, SinceOlderThanTheHistoryIsAReset) {
    fill(20, 30);  // 1..19 were evicted
    ResumePlan plan = history.plan_resume(30, "E", 10, "E");
    EXPECT_TRUE(plan.reset);
    EXPECT_EQ(plan.replay.size(), 11u);
    ResumePlan just_enough = history.plan_resume(30, "E", 19, "E");
    EXPECT_FALSE(just_enough.reset) << "seq 20 is the next one needed and it is retained";
    EXPECT_EQ(just_enough.replay.size(), 11u);
}

TEST_F(Resume, SinceAheadOfTheHeadOrNothingRetainedIsAReset) {
    fill(1, 3);
    EXPECT_TRUE(history.plan_resume(3, "E", 7, "E").reset);
    RoomHistory empty(limits);
    EXPECT_TRUE(empty.plan_resume(9, "E", 4, "E").reset) << "expired: 5..9 are gone";
}

}  // namespace
}  // namespace rp::sidecar

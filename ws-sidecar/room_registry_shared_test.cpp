#include <gtest/gtest.h>

#include "room_registry.h"

namespace rp::sidecar {
namespace {

constexpr const char* kEpoch = "00000000000000e1";
constexpr const char* kOther = "00000000000000e2";

BrokerEntry entry(uint64_t seq) {
    return {seq, 1000 + static_cast<int64_t>(seq), "note", "{\"n\":" + std::to_string(seq) + "}"};
}

RoomSnapshot snapshot(const std::string& epoch, uint64_t head, std::vector<uint64_t> seqs,
                      bool load) {
    RoomSnapshot out{"R", epoch, head, {}, load, 0};
    for (uint64_t seq : seqs) out.entries.push_back(entry(seq));
    return out;
}

class SharedRegistry : public testing::Test {
protected:
    SidecarMetrics metrics;
    RegistryLimits limits{1 << 20, 8, HistoryLimits{100, 1 << 20, 60000}, true};
    RoomRegistry registry{limits, metrics};
    std::vector<std::pair<std::string, std::optional<uint64_t>>> fetches;

    void SetUp() override {
        registry.set_fetcher([this](const std::string& room, std::optional<uint64_t> after) {
            fetches.emplace_back(room, after);
        });
    }
    SessionId member(JoinRequest request = {}) {
        SessionId id = registry.add_session("peer", 0);
        auto joined = registry.join(id, "R", request);
        EXPECT_TRUE(joined.ok());
        return id;
    }
    // "type:seq" of every frame queued for the session.
    std::vector<std::string> drain(SessionId id) {
        std::vector<std::string> out;
        while (FramePtr frame = registry.find(id)->pop()) {
            auto json = parse_json(frame->text());
            std::string type = *require_string(json->get(), "type");
            auto seq = get_integer(json->get(), "seq");
            out.push_back(type + (seq.ok() && seq->has_value() ? ":" + std::to_string(**seq) : ""));
        }
        return out;
    }
    BrokerMessage live(uint64_t seq, const char* epoch = kEpoch) {
        return {"R", epoch, entry(seq)};
    }
};

TEST_F(SharedRegistry, AJoinWaitsForTheLoadThenResumesFromTheStream) {
    SessionId id = member({3, kEpoch, false});
    ASSERT_EQ(fetches.size(), 1u);
    EXPECT_FALSE(fetches[0].second.has_value());  // the tail, not a fill
    EXPECT_TRUE(drain(id).empty());
    auto wake = registry.apply_snapshot(snapshot(kEpoch, 5, {3, 4, 5}, true), 0);
    EXPECT_EQ(wake, std::vector<SessionId>{id});
    EXPECT_EQ(drain(id), (std::vector<std::string>{"subscribed:5", "message:4", "message:5"}));
}

TEST_F(SharedRegistry, LiveMessagesAreDeliveredOnceInOrderAndGapsFilled) {
    SessionId id = member();
    registry.apply_snapshot(snapshot(kEpoch, 0, {}, true), 0);
    drain(id);
    registry.apply_message(live(1), 0);
    registry.apply_message(live(1), 0);  // a repeat
    registry.apply_message(live(3), 0);  // 2 went missing
    ASSERT_EQ(fetches.size(), 2u);
    EXPECT_EQ(fetches[1].second, std::optional<uint64_t>(1));
    registry.apply_snapshot(snapshot(kEpoch, 3, {2, 3}, false), 0);
    registry.apply_message(live(3), 0);
    registry.apply_message(live(4), 0);
    EXPECT_EQ(drain(id),
              (std::vector<std::string>{"message:1", "message:2", "message:3", "message:4"}));
    EXPECT_EQ(metrics.broker_gap_fills, 1u);
}

TEST_F(SharedRegistry, AResubscribeChecksEveryRoom) {
    member();
    registry.apply_snapshot(snapshot(kEpoch, 2, {}, true), 0);
    registry.resubscribed();
    ASSERT_EQ(fetches.size(), 2u);
    EXPECT_EQ(fetches[1].second, std::optional<uint64_t>(2));
}

TEST_F(SharedRegistry, ANewEpochInRedisResetsTheMembers) {
    SessionId id = member();
    registry.apply_snapshot(snapshot(kEpoch, 7, {}, true), 0);
    drain(id);
    registry.apply_message(live(1, kOther), 0);
    ASSERT_EQ(fetches.size(), 2u);
    EXPECT_EQ(fetches[1].second, std::optional<uint64_t>(0));
    registry.apply_snapshot(snapshot(kOther, 1, {1}, false), 0);
    EXPECT_EQ(drain(id), (std::vector<std::string>{"reset", "message:1"}));
    EXPECT_EQ(registry.detail("R")->epoch, kOther);
}

TEST_F(SharedRegistry, AJoinRedisCannotLoadIsRefusedNotLeftWaiting) {
    SessionId id = member();
    auto wake = registry.fetch_failed("R", true, make_error("broker_error", "WRONGTYPE"));
    EXPECT_EQ(wake, std::vector<SessionId>{id});
    EXPECT_EQ(drain(id), std::vector<std::string>{"error"});
    EXPECT_FALSE(registry.is_member(id, "R"));
    EXPECT_FALSE(registry.detail("R").has_value());
}

// Redis holds the publisher's text: it reaches the members as it is. What no sidecar would have
// stored (not JSON, or JSON only cJSON reads) arrives as null and is counted.
TEST_F(SharedRegistry, DataFromRedisIsPassedOnAsItIsWhenItIsPlainJson) {
    SessionId id = member();
    registry.apply_snapshot(snapshot(kEpoch, 0, {}, true), 0);
    drain(id);
    const std::string texts[] = {R"({ "n" : 12345678901234567890 })", "nope", "\x01{}", "01"};
    uint64_t seq = 0;
    for (const std::string& text : texts) {
        registry.apply_message({"R", kEpoch, {++seq, 5, "note", text}}, 0);
    }
    std::vector<std::string> data;
    while (FramePtr frame = registry.find(id)->pop()) {
        std::string_view line = frame->text();
        std::size_t start = line.find(R"("data":)") + 7, end = line.rfind(R"(,"ts":)");
        data.emplace_back(line.substr(start, end - start));
        EXPECT_TRUE(parse_json(line).ok()) << line;
    }
    EXPECT_EQ(data, (std::vector<std::string>{texts[0], "null", "null", "null"}));
    EXPECT_EQ(metrics.broker_bad_messages, 3u);
}

TEST_F(SharedRegistry, TheRoomIsForgottenWithItsLastMember) {
    SessionId id = member();
    registry.remove_session(id);
    EXPECT_FALSE(registry.detail("R").has_value());
    EXPECT_TRUE(registry.apply_snapshot(snapshot(kEpoch, 1, {1}, true), 0).empty());
    EXPECT_TRUE(registry.apply_message(live(1), 0).empty());
}

}  // namespace
}  // namespace rp::sidecar

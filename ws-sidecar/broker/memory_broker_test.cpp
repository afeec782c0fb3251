#include "memory_broker.h"

#include <gtest/gtest.h>

#include "broker_factory.h"
#include "test_loop.h"

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

class MemoryBrokerTest : public testing::Test {
protected:
    TestLoop loop;  // first: destroyed last
    SidecarMetrics metrics;
    RoomRegistry registry{{}, metrics};

    static ControlRequest publish(std::string room, std::string id = "") {
        return {.op = ControlOp::publish,
                .room = std::move(room),
                .event = "e",
                .id = std::move(id),
                .data = R"({"n":1})"};
    }
};

TEST_F(MemoryBrokerTest, PublishesOnTheLoopAndWakesTheMembers) {
    MemoryBroker broker(loop, registry);
    SessionId member = loop.sync([&] {
        SessionId id = registry.add_session("peer", 0);
        (void)registry.join(id, "A", {});
        return id;
    });
    auto ack = broker.publish(publish("A", "k"), 1000);
    ASSERT_TRUE(ack.ok()) << ack.error().message;
    EXPECT_EQ(ack->seq, 1u);
    EXPECT_EQ(ack->delivered, 1u);
    EXPECT_FALSE(ack->duplicate);
    EXPECT_EQ(loop.sync([&] { return loop.woken; }), std::vector<SessionId>{member});

    auto again = broker.publish(publish("A", "k"), 1001);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->seq, 1u);
    EXPECT_TRUE(again->duplicate);
}

TEST_F(MemoryBrokerTest, ALoopThatDoesNotAnswerIsUnavailableAndNothingIsPublishedLater) {
    MemoryBroker broker(loop, registry, 50ms);
    loop.hold(true);
    auto ack = broker.publish(publish("A"), 0);
    ASSERT_FALSE(ack.ok());
    EXPECT_EQ(ack.error().code, "unavailable");
    loop.hold(false);
    EXPECT_TRUE(loop.sync([&] { return registry.summaries(); }).empty());
}

TEST_F(MemoryBrokerTest, HasNoClusterNoStreamAndNothingToStart) {
    MemoryBroker broker(loop, registry);
    EXPECT_FALSE(broker.shared());
    EXPECT_TRUE(broker.start({}).ok());
    EXPECT_EQ(broker.cluster_reports().error().code, "not_clustered");
    auto page = broker.history("A", 0, 10);
    ASSERT_TRUE(page.ok());
    EXPECT_FALSE(page->has_value());
}

TEST_F(MemoryBrokerTest, TheFactoryChoosesMemoryUnlessTheUrlIsRedis) {
    SidecarConfig config;  // --broker memory, the default
    RoomPresence presence(10);
    std::unique_ptr<Broker> broker = make_broker(config, registry, metrics, loop, presence);
    EXPECT_NE(dynamic_cast<MemoryBroker*>(broker.get()), nullptr);
}

}  // namespace
}  // namespace rp::sidecar

#include "ws_handler.h"

#include <gtest/gtest.h>

#include "roompush/json.h"
#include "roompush/room_token.h"
#include "roompush/wall_clock.h"

namespace rp::sidecar {
namespace {

const std::string kSecret(40, 's');

// Takes what the handler admits, as the broker's publisher would.
struct FakePublisher : ClientPublisher {
    std::vector<ControlRequest> submitted;
    std::vector<std::string> announced;
    bool submit(SessionId, ControlRequest request) override {
        submitted.push_back(std::move(request));
        return true;
    }
    void presence_changed(const std::string& room, const char* type, const std::string&) override {
        announced.push_back(std::string(type) + " " + room);
    }
    bool ask_cluster(std::function<void(Reports)>) override { return false; }
};

class Handler : public testing::Test {
protected:
    SidecarConfig config = [] {
        SidecarConfig c;
        c.node_id = "n1";
        return c;
    }();
    SidecarMetrics metrics;
    RoomRegistry registry{RegistryLimits{1 << 20, 8, HistoryLimits{100, 1 << 20, 60000}}, metrics};
    std::vector<SessionId> woken;
    WsHandler handler{registry, config, metrics, [this](const std::vector<SessionId>& ids) {
                          woken.insert(woken.end(), ids.begin(), ids.end());
                      }};
    FakePublisher publisher;

    void SetUp() override { handler.set_publisher(&publisher); }

    SessionId open(const std::string& path = "/ws", const std::string& query = "") {
        return handler.open(path, query, "peer", now_ms());
    }
    // What the session was sent, as parsed objects, taken off its queue.
    std::vector<JsonPtr> sent(SessionId id) {
        std::vector<JsonPtr> out;
        while (FramePtr frame = registry.find(id)->pop()) {
            auto parsed = parse_json(frame->text());
            out.push_back(std::move(*parsed));
        }
        return out;
    }
    static std::string field(const JsonPtr& frame, const char* key) {
        auto value = get_string(frame.get(), key);
        return value && value->has_value() ? **value : "";
    }
    bool closing(SessionId id) { return registry.find(id)->closing(); }
};

TEST_F(Handler, ARoomPathJoinsAndAnUnknownPathIsRefusedWith1008) {
    SessionId member = open("/ws/rooms/A");
    auto frames = sent(member);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(field(frames[0], "type"), "subscribed");
    SessionId lost = open("/elsewhere");
    EXPECT_EQ(field(sent(lost)[0], "code"), "not_found");
    EXPECT_EQ(registry.find(lost)->due_close()->code, CloseCode::policy);
}

TEST_F(Handler, UnsubscribingFromARoomNotJoinedNamesItAndKeepsTheConnection) {
    SessionId id = open();
    handler.on_text(id, R"({"op":"unsubscribe","room":"B"})");
    auto frames = sent(id);
    EXPECT_EQ(field(frames[0], "code"), "not_subscribed");
    EXPECT_EQ(field(frames[0], "room"), "B");
    EXPECT_FALSE(closing(id));
}

TEST_F(Handler, ATokenRefusedOnWsCostsTheRoomOnARoomPathTheConnection) {
    config.auth_secrets = {kSecret};
    SessionId commands = open();
    handler.on_text(commands, R"({"op":"subscribe","room":"A"})");
    auto frames = sent(commands);
    EXPECT_EQ(field(frames[0], "code"), "token_missing");
    EXPECT_EQ(field(frames[0], "room"), "A");
    EXPECT_FALSE(closing(commands));
    SessionId path = open("/ws/rooms/A");
    EXPECT_EQ(field(sent(path)[0], "code"), "token_missing");
    EXPECT_TRUE(closing(path));
}

TEST_F(Handler, APublishAdmittedByTheTokenGoesToThePublisherWithItsSender) {
    config.auth_secrets = {kSecret};
    std::string token = mint_token(kSecret, TokenClaims{"A", now_s() + 60, "ann", true});
    SessionId id = open("/ws/rooms/A", "token=" + token);
    sent(id);
    handler.on_text(id, R"({"op":"publish","room":"A","event":"note","data":{"t":1},"id":"k"})");
    ASSERT_EQ(publisher.submitted.size(), 1u);
    EXPECT_EQ(publisher.submitted[0].from,
              R"({"conn":"n1/)" + std::to_string(id) + R"(","user":"ann"})");
    EXPECT_EQ(publisher.submitted[0].data, R"({"t":1})");
    handler.on_text(id, R"({"op":"publish","room":"A","event":"job.done","data":1,"id":"j"})");
    auto refused = sent(id);
    EXPECT_EQ(field(refused[0], "code"), "event_reserved");
    EXPECT_EQ(field(refused[0], "id"), "j");
    EXPECT_EQ(metrics.client_publish_refused.load(), 1u);
}

TEST_F(Handler, PresenceTellsTheOthersAndTheNodesAndAnswersTheMember) {
    config.presence_open = true;
    SessionId first = open("/ws/rooms/A");
    sent(first);
    SessionId second = open("/ws/rooms/A");
    sent(second);
    EXPECT_EQ(woken, std::vector<SessionId>{first}) << "the first hears of the second";
    EXPECT_EQ(publisher.announced, (std::vector<std::string>{"join A", "join A"}));
    handler.on_text(second, R"({"op":"presence","room":"A"})");
    auto answer = sent(second);
    EXPECT_EQ(field(answer[0], "type"), "presence");
    EXPECT_EQ(cJSON_GetObjectItem(answer[0].get(), "count")->valueint, 2);
    handler.closed(second);
    auto left = sent(first);
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(field(left[0], "type"), "join");
    EXPECT_EQ(field(left[1], "type"), "leave");
    EXPECT_EQ(publisher.announced.back(), "leave A");
}

TEST_F(Handler, PingIsAnsweredPongAndMalformedCommandsClose) {
    SessionId id = open();
    handler.on_text(id, R"({"op":"ping"})");
    EXPECT_EQ(field(sent(id)[0], "type"), "pong");
    handler.on_text(id, R"({"op":"publish","room":"A"})");
    EXPECT_EQ(field(sent(id)[0], "code"), "missing_field");
    EXPECT_TRUE(closing(id));
}

}  // namespace
}  // namespace rp::sidecar

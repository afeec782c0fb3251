#include "client_publish.h"

#include <gtest/gtest.h>

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

ControlRequest message(std::string room = "chat", std::string event = "note",
                       std::string data = R"({"text":"hi"})") {
    ControlRequest request;
    request.op = ControlOp::publish;
    request.room = std::move(room);
    request.event = std::move(event);
    request.data = std::move(data);
    return request;
}

class ClientPublishTest : public ::testing::Test {
protected:
    Session session{7, "peer", 1 << 20, kNow};
    ClientPublishRules tokens{
        .tokens = true, .rate = {.per_second = 1, .burst = 2}, .node_id = "n1"};
    ClientPublishRules open{
        .open_rooms = true, .rate = {.per_second = 1, .burst = 2}, .node_id = "n1"};

    std::string refusal(bool member, ControlRequest request, const ClientPublishRules& rules) {
        auto admitted = admit_client_publish(session, member, std::move(request), rules, kNow);
        return admitted ? "" : admitted.error().code;
    }
};

TEST_F(ClientPublishTest, ATokenWithPublishAdmitsAndNamesTheSender) {
    session.set_rights("chat", {.publish = true, .user = "alice"});
    auto admitted = admit_client_publish(session, true, message(), tokens, kNow);
    ASSERT_TRUE(admitted.ok()) << admitted.error().message;
    EXPECT_EQ(admitted->from, R"({"conn":"n1/7","user":"alice"})");
    EXPECT_EQ(admitted->data, R"({"text":"hi"})") << "the data goes on as it was written";
}

TEST_F(ClientPublishTest, EveryRefusalHasItsCode) {
    session.set_rights("chat", {.publish = true, .user = "alice"});
    session.set_rights("read-only", {.publish = false, .user = "alice"});
    EXPECT_EQ(refusal(false, message(), tokens), "not_subscribed");
    EXPECT_EQ(refusal(true, message("read-only"), tokens), "publish_forbidden");
    EXPECT_EQ(refusal(true, message("no-rights"), tokens), "publish_forbidden");
    EXPECT_EQ(refusal(true, message("chat", "job.done"), tokens), "event_reserved");
    EXPECT_EQ(refusal(true, message("chat", "note", std::string(2049, '1')), tokens),
              "message_too_big");
    EXPECT_EQ(refusal(true, message("chat"), ClientPublishRules{.tokens = false}),
              "publish_forbidden")
        << "open rooms need --client-publish";
}

TEST_F(ClientPublishTest, RefusedMessagesCostNoBudgetAndTheRateHolds) {
    session.set_rights("chat", {.publish = true});
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(refusal(true, message("chat", "job.x"), tokens), "event_reserved");
    EXPECT_EQ(refusal(true, message(), tokens), "");
    EXPECT_EQ(refusal(true, message(), tokens), "");
    EXPECT_EQ(refusal(true, message(), tokens), "rate_limited");
}

TEST_F(ClientPublishTest, OpenRoomsWithTheOptionAdmitAnyMemberWithoutAUser) {
    auto admitted = admit_client_publish(session, true, message(), open, kNow);
    ASSERT_TRUE(admitted.ok()) << admitted.error().message;
    EXPECT_EQ(admitted->from, R"({"conn":"n1/7"})");
}

TEST_F(ClientPublishTest, RightsAreReplacedAndForgotten) {
    session.set_rights("chat", {.publish = true, .user = "a"});
    session.set_rights("chat", {.publish = false, .user = "b"});
    ASSERT_NE(session.rights("chat"), nullptr);
    EXPECT_FALSE(session.rights("chat")->publish);
    session.set_rights("chat", {});
    EXPECT_EQ(session.rights("chat"), nullptr);
    Session plain{8, "peer", 1 << 20, kNow};
    plain.set_rights("chat", {});
    EXPECT_EQ(plain.rights("chat"), nullptr);
}

TEST_F(ClientPublishTest, ServerEventsAreTheJobs) {
    EXPECT_TRUE(is_server_event("job.done"));
    EXPECT_TRUE(is_server_event("job."));
    EXPECT_FALSE(is_server_event("jobs"));
    EXPECT_FALSE(is_server_event("note"));
}

TEST_F(ClientPublishTest, AUserWithQuotesStaysInsideItsString) {
    std::string from = sender_json("n", 1, "a\"b\n");
    auto parsed = parse_json(from);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*require_string(parsed->get(), "user"), "a\"b\n");
    EXPECT_EQ(from.find('\n'), std::string::npos) << "the sender is one line of the Redis payload";
}

}  // namespace
}  // namespace rp::sidecar

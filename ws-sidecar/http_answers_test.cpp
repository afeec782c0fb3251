#include "http_answers.h"

#include <gtest/gtest.h>

#include <string>

namespace rp::sidecar {
namespace {

std::string no_metrics() {
    ADD_FAILURE() << "the metrics are rendered for /metrics only";
    return "";
}

TEST(HttpAnswers, MetricsArePrometheusTextAndKeepTheConnection) {
    HttpAnswer answer =
        answer_plain_http("/metrics", [] { return std::string("roompush_rooms 3\n"); });
    EXPECT_EQ(answer.status, 200);
    EXPECT_STREQ(answer.content_type, "text/plain; version=0.0.4");
    EXPECT_EQ(answer.body, "roompush_rooms 3\n");
    EXPECT_EQ(answer.extra_header, nullptr);
    EXPECT_FALSE(answer.then_close);
}

TEST(HttpAnswers, AWebSocketPathWithoutUpgradeGets426AskingForIt) {
    for (std::string uri : {"/ws", "/ws/", "/ws/rooms/demo"}) {
        HttpAnswer answer = answer_plain_http(uri, no_metrics);
        EXPECT_EQ(answer.status, 426) << uri;
        EXPECT_STREQ(answer.content_type, "application/json");
        EXPECT_STREQ(answer.extra_header, "Upgrade:");
        EXPECT_STREQ(answer.extra_value, "websocket");
        EXPECT_EQ(answer.body, R"({"error":{"code":"upgrade_required","message":")" + uri +
                                   " is a WebSocket endpoint: open it with Upgrade: websocket "
                                   "(docs/websocket.md)\"}}\n");
        EXPECT_TRUE(answer.then_close);
    }
}

TEST(HttpAnswers, AnyOtherPathGets404AsJson) {
    for (std::string uri : {"/", "/wsx", "/metrics/", "/metricsx", "/rooms/ws/", "/WS"}) {
        HttpAnswer answer = answer_plain_http(uri, no_metrics);
        EXPECT_EQ(answer.status, 404) << uri;
        EXPECT_STREQ(answer.content_type, "application/json");
        EXPECT_EQ(answer.extra_header, nullptr);
        EXPECT_EQ(answer.body, R"({"error":{"code":"not_found","message":"nothing at )" + uri +
                                   R"("}})"
                                   "\n");
        EXPECT_TRUE(answer.then_close);
    }
}

TEST(HttpAnswers, AnErrorBodyIsEscapedJson) {
    HttpAnswer answer = json_error_answer(400, make_error("bad_request", "a \"quote\""));
    EXPECT_EQ(answer.body, R"({"error":{"code":"bad_request","message":"a \"quote\""}})"
                           "\n");
}

TEST(OriginCheck, WithoutAnAllowListEveryOriginMayUpgrade) {
    EXPECT_FALSE(refuse_origin({}, "https://evil.example"));
    EXPECT_FALSE(refuse_origin({}, ""));
}

TEST(OriginCheck, AnOriginOnTheListMayUpgrade) {
    std::vector<std::string> allowed{"https://a.example", "https://b.example"};
    EXPECT_FALSE(refuse_origin(allowed, "https://a.example"));
    EXPECT_FALSE(refuse_origin(allowed, "https://b.example"));
}

TEST(OriginCheck, AnyOtherOriginGets403) {
    std::vector<std::string> allowed{"https://a.example"};
    for (std::string origin : {"https://evil.example", "https://a.example.evil", "http://a.example",
                               "https://A.example", "https://a.example "}) {
        auto refusal = refuse_origin(allowed, origin);
        ASSERT_TRUE(refusal) << origin;
        EXPECT_EQ(refusal->status, 403);
        EXPECT_TRUE(refusal->then_close);
        EXPECT_EQ(refusal->body,
                  R"({"error":{"code":"origin_not_allowed","message":"WebSockets from )" + origin +
                      R"( are not allowed here"}})"
                      "\n");
    }
}

TEST(OriginCheck, AMissingOriginGets403SayingOneIsRequired) {
    auto refusal = refuse_origin({"https://a.example"}, "");
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->status, 403);
    EXPECT_EQ(refusal->body, R"({"error":{"code":"origin_not_allowed","message":)"
                             R"("this server requires an Origin header from its allowed list"}})"
                             "\n");
}

}  // namespace
}  // namespace rp::sidecar

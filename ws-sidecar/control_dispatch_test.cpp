#include "control_dispatch.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "answer_writer.h"
#include "memory_broker.h"
#include "roompush/unix_socket.h"
#include "test_loop.h"

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

// A shared broker whose answers the test sets, called on the connection's thread.
class FakeSharedBroker : public Broker {
public:
    bool shared() const override { return true; }
    // With `hold`, publishes wait in `held` for the test to answer them (from any thread).
    void publish_async(const ControlRequest& request, int64_t now, PublishDone done) override {
        if (!hold) return Broker::publish_async(request, now, std::move(done));
        published.push_back(request.room);
        held.push_back(std::move(done));
    }
    Status start(BrokerListener) override { return ok_status(); }
    void stop() override {}
    Result<PublishAck> publish(const ControlRequest& request, int64_t) override {
        published.push_back(request.room);
        if (!up) return make_error("unavailable", "Redis is away");
        return PublishAck{.seq = published.size(), .delivered = 2};
    }
    Result<std::optional<HistoryPage>> history(const std::string& room, uint64_t since,
                                               std::size_t limit) override {
        asked_limit = limit;
        if (room != "A") return std::optional<HistoryPage>{};
        return std::optional<HistoryPage>{
            HistoryPage{.epoch = "e", .seq = since + 1, .messages = {R"({"seq":1})"}}};
    }
    void fetch(const std::string&, std::optional<uint64_t>) override {}
    void report_members(std::string) override {}
    Result<std::vector<std::string>> cluster_reports() override {
        return std::vector<std::string>{
            R"({"node":"n1","rooms":[{"room":"A","members":[{"id":1}]}]})"};
    }

    bool up = true;
    bool hold = false;
    std::vector<PublishDone> held;
    std::vector<std::string> published;
    std::size_t asked_limit = 0;
};

class Dispatch : public testing::Test {
protected:
    TestLoop loop;  // first: destroyed last, after everything its tasks could reach
    SidecarMetrics metrics;
    RoomRegistry registry{{.max_rooms_per_session = 2}, metrics};
    MemoryBroker memory{loop, registry};
    FakeSharedBroker redis;
    int reloads = 0;
    int started_at_reload = -1;

    ControlDispatch dispatch(Broker& broker, std::chrono::milliseconds patience = 5s) {
        return ControlDispatch({.loop = loop,
                                .registry = registry,
                                .metrics = metrics,
                                .broker = broker,
                                .reload = [this]() -> Result<OptionChanges> {
                                    ++reloads;
                                    started_at_reload = loop.started;
                                    return OptionChanges{.applied = {"log-level"}};
                                },
                                .patience = patience});
    }
    static std::vector<Result<ControlRequest>> requests(std::initializer_list<const char*> lines) {
        std::vector<Result<ControlRequest>> out;
        for (const char* line : lines) out.push_back(decode_request(line));
        return out;
    }
    static std::vector<std::string> lines_of(const ControlAnswers& answers) {
        std::vector<std::string> out;
        for (const ControlResponse& response : answers.responses) out.push_back(response.line);
        return out;
    }
    static std::string code_of(const ControlResponse& response) {
        EXPECT_FALSE(response.ok) << response.line;
        auto decoded = decode_response(response.line);
        return decoded ? "" : decoded.error().code;
    }
};

constexpr const char* kPublishA = R"({"op":"publish","room":"A","event":"e","data":1})";
constexpr const char* kReload = R"({"op":"reload"})";

TEST(RouteOf, EachRequestGoesItsWay) {
    auto route = [](const char* line, bool shared) {
        return route_of(decode_request(line), shared);
    };
    EXPECT_EQ(route("{nope", false), Route::error);
    EXPECT_EQ(route(R"({"op":"tail","room":"A"})", true), Route::tail);
    EXPECT_EQ(route(kReload, false), Route::off_loop);
    EXPECT_EQ(route(R"({"op":"rooms","cluster":true})", false), Route::off_loop);
    EXPECT_EQ(route(kPublishA, false), Route::loop);
    EXPECT_EQ(route(kPublishA, true), Route::off_loop);
    EXPECT_EQ(route(R"({"op":"history","room":"A"})", true), Route::off_loop);
    EXPECT_EQ(route(R"({"op":"history","room":"A"})", false), Route::loop);
    EXPECT_EQ(route(R"({"op":"stats"})", true), Route::loop);
    EXPECT_EQ(route(R"({"op":"kick","room":"A","member":1})", true), Route::loop);
}

TEST_F(Dispatch, APipelinedBatchIsOneHandOverToTheLoop) {
    ControlDispatch control = dispatch(memory);
    ControlAnswers answers =
        control.answer(requests({kPublishA, "{nope", kPublishA, R"({"op":"rooms"})"}));
    EXPECT_EQ(loop.posted, 1);
    ASSERT_EQ(answers.responses.size(), 4u);
    EXPECT_EQ(answers.responses[0].line, R"({"ok":true,"seq":1,"delivered":0})");
    EXPECT_EQ(code_of(answers.responses[1]), "bad_json");
    EXPECT_EQ(answers.responses[2].line, R"({"ok":true,"seq":2,"delivered":0})");
    EXPECT_EQ(answers.responses[3].line,
              R"({"ok":true,"rooms":[{"room":"A","members":0,"seq":2,"retained":2}]})");
    EXPECT_FALSE(answers.tail);
}

TEST_F(Dispatch, WhatCameBeforeAnOffLoopRequestIsDoneBeforeIt) {
    ControlDispatch control = dispatch(memory);
    ControlAnswers answers = control.answer(requests({kPublishA, kReload, kPublishA}));
    EXPECT_EQ(reloads, 1);
    EXPECT_EQ(started_at_reload, 1) << "the first publish was carried out before the reload";
    EXPECT_EQ(loop.posted, 2);
    EXPECT_EQ(lines_of(answers), (std::vector<std::string>{
                                     R"({"ok":true,"seq":1,"delivered":0})",
                                     R"({"ok":true,"applied":["log-level"],"restart_needed":[]})",
                                     R"({"ok":true,"seq":2,"delivered":0})"}));
}

TEST_F(Dispatch, ASharedBrokerAnswersPublishAndHistoryOffTheLoop) {
    ControlDispatch control = dispatch(redis);
    ControlAnswers answers = control.answer(requests(
        {kPublishA, R"({"op":"history","room":"A","since":4})", R"({"op":"history","room":"B"})"}));
    EXPECT_EQ(loop.posted, 0);
    EXPECT_EQ(redis.published, std::vector<std::string>{"A"});
    EXPECT_EQ(redis.asked_limit, kDefaultHistoryLimit);
    EXPECT_EQ(answers.responses[0].line, R"({"ok":true,"seq":1,"delivered":2})");
    EXPECT_EQ(answers.responses[1].line,
              R"({"ok":true,"room":"A","epoch":"e","seq":5,"messages":[{"seq":1}]})");
    EXPECT_EQ(code_of(answers.responses[2]), "not_found");

    redis.up = false;
    EXPECT_EQ(code_of(control.answer(requests({kPublishA})).responses.at(0)), "unavailable");
}

TEST_F(Dispatch, ASharedBrokersReadOfPublishesIsPipelinedAndAnsweredInOrder) {
    ControlDispatch control = dispatch(redis);
    auto pending = std::make_shared<PendingAnswers>();
    auto read =
        requests({kPublishA, "{nope", R"({"op":"publish","room":"B","event":"e","data":2})"});
    ASSERT_TRUE(control.pipeline(read, pending));
    EXPECT_EQ(redis.published, (std::vector<std::string>{"A", "B"}));
    std::vector<ControlResponse> out;
    pending->take(out, PendingAnswers::clock_ms());
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].line, R"({"ok":true,"seq":1,"delivered":2})");
    EXPECT_EQ(code_of(out[1]), "bad_json");
    EXPECT_EQ(out[2].line, R"({"ok":true,"seq":2,"delivered":2})");
    EXPECT_EQ(loop.posted, 0);

    // Refused at once: the rest of the read is not sent, so none overtakes it when sent again.
    redis.up = false;
    auto refused = requests({kPublishA, kPublishA});
    ASSERT_TRUE(control.pipeline(refused, pending));
    EXPECT_EQ(redis.published.size(), 3u);
    out.clear();
    pending->take(out, PendingAnswers::clock_ms());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(code_of(out[0]), "unavailable");
    EXPECT_EQ(code_of(out[1]), "unavailable");
}

TEST_F(Dispatch, ARefusalHoldsBackTheConnectionsLaterPublishesUntilNothingIsOwed) {
    ControlDispatch control = dispatch(redis);
    auto pending = std::make_shared<PendingAnswers>();
    redis.hold = true;
    auto first = requests({kPublishA});
    ASSERT_TRUE(control.pipeline(first, pending));  // owed
    redis.hold = false;
    redis.up = false;
    auto refused = requests({kPublishA});
    ASSERT_TRUE(control.pipeline(refused, pending));  // refused at once
    redis.up = true;
    auto later = requests({kPublishA});
    ASSERT_TRUE(control.pipeline(later, pending));  // a later read: not sent, not to overtake
    EXPECT_EQ(redis.published.size(), 2u);

    std::thread([&] { redis.held.at(0)(PublishAck{.seq = 1, .delivered = 1}); }).join();
    std::vector<ControlResponse> out;
    pending->take(out, PendingAnswers::clock_ms());
    ASSERT_EQ(out.size(), 3u);
    EXPECT_TRUE(out[0].ok);
    EXPECT_EQ(code_of(out[1]), "unavailable");
    EXPECT_EQ(code_of(out[2]), "unavailable");

    auto after = requests({kPublishA});  // nothing owed: sent again
    ASSERT_TRUE(control.pipeline(after, pending));
    EXPECT_EQ(redis.published.size(), 3u);
}

TEST_F(Dispatch, AnErrorFromRedisLaterIsNoRefusalAtOnce) {
    ControlDispatch control = dispatch(redis);
    auto pending = std::make_shared<PendingAnswers>();
    redis.hold = true;
    auto read = requests({kPublishA, kPublishA});
    ASSERT_TRUE(control.pipeline(read, pending));
    std::thread([&] { redis.held.at(0)(make_error("broker_error", "ERR something")); }).join();
    auto next = requests({kPublishA});
    ASSERT_TRUE(control.pipeline(next, pending));
    EXPECT_EQ(redis.published.size(), 3u) << "sent: the error was the first publish's alone";
    EXPECT_FALSE(pending->refused());
}

TEST_F(Dispatch, OnlyAReadOfPublishesToASharedBrokerIsPipelined) {
    auto pending = std::make_shared<PendingAnswers>();
    ControlDispatch shared = dispatch(redis);
    auto mixed = requests({kPublishA, R"({"op":"history","room":"A"})"});
    EXPECT_FALSE(shared.pipeline(mixed, pending));
    auto with_loop_request = requests({kPublishA, R"({"op":"stats"})"});
    EXPECT_FALSE(shared.pipeline(with_loop_request, pending));
    ControlDispatch local = dispatch(memory);
    auto publishes = requests({kPublishA});
    EXPECT_FALSE(local.pipeline(publishes, pending));
    EXPECT_TRUE(redis.published.empty());
    EXPECT_EQ(pending->owed(), 0u);
}

TEST_F(Dispatch, ClusterViewsComeFromTheBrokerAndAreTypedEitherWay) {
    ControlDispatch with_memory = dispatch(memory);
    EXPECT_EQ(
        code_of(with_memory.answer(requests({R"({"op":"rooms","cluster":true})"})).responses.at(0)),
        "not_clustered");
    ControlDispatch with_redis = dispatch(redis);
    ControlAnswers answers =
        with_redis.answer(requests({R"({"op":"room","room":"A","cluster":true})",
                                    R"({"op":"room","room":"B","cluster":true})"}));
    EXPECT_TRUE(answers.responses[0].ok) << answers.responses[0].line;
    EXPECT_EQ(code_of(answers.responses[1]), "not_found");
}

TEST_F(Dispatch, ALoopThatDoesNotAnswerIsUnavailableForTheWholeRun) {
    ControlDispatch control = dispatch(memory, 50ms);
    loop.hold(true);
    ControlAnswers answers = control.answer(requests({kPublishA, R"({"op":"stats"})", kReload}));
    EXPECT_EQ(code_of(answers.responses[0]), "unavailable");
    EXPECT_EQ(code_of(answers.responses[1]), "unavailable");
    EXPECT_TRUE(answers.responses[2].ok) << "reload does not wait on the loop";
    loop.hold(false);
    auto rooms = loop.sync([&] { return registry.summaries(); });
    EXPECT_TRUE(rooms.empty()) << "a request answered unavailable was not carried out later";
}

// What the peer of `fd` has been sent so far, without waiting.
std::string sent_so_far(int fd) {
    std::string got;
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0) got.append(buffer, n);
    return got;
}

TEST_F(Dispatch, TheLoopWritesItsAnswersBeforeItCanWriteTheirFrames) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    UniqueFd ours(pair[0]), peer(pair[1]);
    AnswerWriter writer(ours.get());
    ControlDispatch control = dispatch(memory);
    ControlAnswers answers = control.answer(
        requests({R"({"op":"reload"})", kPublishA, "{nope", kPublishA, R"({"op":"rooms"})"}),
        &writer);
    // Nobody called writer.write_all() after the run: the loop's task wrote its answers, in
    // order with the error between them, and the reload's before them.
    EXPECT_EQ(answers.handed, 5u);
    std::string expected;
    for (const ControlResponse& response : answers.responses) expected += response.line + "\n";
    EXPECT_EQ(sent_so_far(peer.get()), expected);
    EXPECT_EQ(answers.responses[2].line.find("bad_json") != std::string::npos, true);
}

TEST_F(Dispatch, ARunTheLoopDidNotTakeUpIsLeftToTheConnectionToWrite) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    UniqueFd ours(pair[0]), peer(pair[1]);
    AnswerWriter writer(ours.get());
    ControlDispatch control = dispatch(memory, 50ms);
    loop.hold(true);
    ControlAnswers answers = control.answer(requests({kPublishA}), &writer);
    EXPECT_EQ(answers.handed, 0u);
    EXPECT_EQ(sent_so_far(peer.get()), "");
    EXPECT_EQ(code_of(answers.responses[0]), "unavailable");
    loop.hold(false);
}

TEST_F(Dispatch, ATailEndsTheBatchAndFollowsItsRoomsUntilItsConnectionEnds) {
    ControlDispatch control = dispatch(memory);
    ControlAnswers answers =
        control.answer(requests({kPublishA, R"({"op":"tail","room":"A","since":0})", kPublishA}));
    ASSERT_EQ(answers.responses.size(), 2u) << "what follows a tail is not answered";
    EXPECT_EQ(answers.responses[1], ControlResponse{});
    ASSERT_TRUE(answers.tail);
    ASSERT_TRUE(answers.on_tail_end);
    EXPECT_EQ(loop.sinks(), 1u);

    control.answer(requests({kPublishA}));  // from another connection
    auto batch = answers.tail->wait(2s);
    ASSERT_EQ(batch.frames.size(), 3u) << "subscribed, the retained message, the new one";
    EXPECT_NE(batch.frames[0]->text().find(R"("type":"subscribed")"), std::string_view::npos);
    EXPECT_NE(batch.frames[2]->text().find(R"("seq":2)"), std::string_view::npos);

    answers.on_tail_end();
    EXPECT_EQ(loop.sinks(), 0u);
    EXPECT_EQ(loop.sync([&] { return registry.session_count(); }), 0u);
}

TEST_F(Dispatch, ATailThatCannotJoinIsAnErrorAndTheBatchGoesOn) {
    ControlDispatch control = dispatch(memory);
    ControlAnswers answers =
        control.answer(requests({R"({"op":"tail","rooms":["A","B","C"]})", R"({"op":"stats"})"}));
    ASSERT_EQ(answers.responses.size(), 2u);
    EXPECT_FALSE(answers.responses[0].ok);
    EXPECT_TRUE(answers.responses[1].ok);
    EXPECT_FALSE(answers.tail);
    EXPECT_EQ(loop.sync([&] { return registry.session_count(); }), 0u);
}

}  // namespace
}  // namespace rp::sidecar

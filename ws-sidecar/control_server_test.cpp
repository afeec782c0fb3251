#include "control_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

// A control server on a socket in a fresh temporary directory, with a dispatch the test writes.
class ControlServerTest : public testing::Test {
protected:
    void SetUp() override {
        char dir_template[] = "/tmp/roompush-control-test-XXXXXX";
        ASSERT_NE(::mkdtemp(dir_template), nullptr);
        dir = dir_template;
        path = dir + "/control.sock";
    }
    void TearDown() override {
        server.reset();
        ::rmdir(dir.c_str());
    }

    void start(ControlServer::Dispatch dispatch, std::size_t max_clients = 4,
               ControlServer::Pipeline pipeline = {}) {
        server = std::make_unique<ControlServer>(
            ControlServer::Config{.path = path, .max_line = 1024, .max_clients = max_clients},
            metrics, std::move(dispatch), std::move(pipeline));
        ASSERT_TRUE(server->start().ok());
    }
    UniqueFd connect() {
        auto fd = connect_unix(path);
        EXPECT_TRUE(fd.ok());
        return fd ? std::move(*fd) : UniqueFd();
    }
    // The next `count` lines the server writes (or fewer, after 5 s).
    static std::vector<std::string> read_lines(int fd, std::size_t count) {
        std::vector<std::string> lines;
        std::string pending;
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (lines.size() < count && std::chrono::steady_clock::now() < deadline) {
            pollfd peer{fd, POLLIN, 0};
            if (::poll(&peer, 1, 100) <= 0) continue;
            char buffer[4096];
            ssize_t got = ::read(fd, buffer, sizeof buffer);
            if (got <= 0) break;
            pending.append(buffer, static_cast<std::size_t>(got));
            for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
                lines.push_back(pending.substr(0, end));
                pending.erase(0, end + 1);
            }
        }
        return lines;
    }

    std::string dir, path;
    SidecarMetrics metrics;
    std::unique_ptr<ControlServer> server;
};

// Answers each request with its op, or the error it got.
ControlAnswers echo(std::vector<Result<ControlRequest>> requests, AnswerWriter&) {
    ControlAnswers answers;
    for (const auto& request : requests) {
        answers.responses.push_back(
            request ? ControlResponse::success(std::string(R"({"ok":true,"op":")") +
                                               op_name(request->op) + "\"}")
                    : ControlResponse::failure(request.error()));
    }
    return answers;
}

TEST_F(ControlServerTest, APipelinedReadIsOneDispatchAnsweredInOrder) {
    std::mutex mutex;
    std::vector<std::size_t> batches;
    start([&](std::vector<Result<ControlRequest>> requests, AnswerWriter& writer) {
        std::lock_guard lock(mutex);
        batches.push_back(requests.size());
        return echo(std::move(requests), writer);
    });
    UniqueFd fd = connect();
    ASSERT_TRUE(
        write_all(fd.get(),
                  "{\"op\":\"rooms\"}\n\n{\"op\":\"stats\"}\r\n{nope\n{\"op\":\"reload\"}\n")
            .ok());
    auto lines = read_lines(fd.get(), 4);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], R"({"ok":true,"op":"rooms"})");
    EXPECT_EQ(lines[1], R"({"ok":true,"op":"stats"})");
    EXPECT_EQ(decode_response(lines[2]).error().code, "bad_json");
    EXPECT_EQ(lines[3], R"({"ok":true,"op":"reload"})");
    std::lock_guard lock(mutex);
    EXPECT_EQ(batches, std::vector<std::size_t>{4}) << "the blank line is no request";
}

// A pipeline that takes every read of publishes and leaves their answers owed until the test
// gives them; a dispatch that counts what it is given.
struct HeldPublishes {
    std::mutex mutex;
    std::vector<std::pair<std::shared_ptr<PendingAnswers>, PendingAnswers::Ticket>> owed;
    std::atomic<int> dispatched{0};
    int64_t deadline_ms = 60000;

    ControlServer::Pipeline pipeline() {
        return [this](std::vector<Result<ControlRequest>>& requests,
                      const std::shared_ptr<PendingAnswers>& pending) {
            for (const auto& request : requests) {
                if (!request || request->op != ControlOp::publish) return false;
            }
            std::lock_guard lock(mutex);
            for (std::size_t i = 0; i < requests.size(); ++i) {
                owed.emplace_back(pending,
                                  pending->expect(PendingAnswers::clock_ms() + deadline_ms));
            }
            return true;
        };
    }
    std::size_t held() {
        std::lock_guard lock(mutex);
        return owed.size();
    }
    // Waits (up to 5 s) until `count` publishes are held.
    bool wait_held(std::size_t count) {
        for (int i = 0; i < 500 && held() < count; ++i) std::this_thread::sleep_for(10ms);
        return held() >= count;
    }
    void answer(std::size_t index, const std::string& text) {
        std::lock_guard lock(mutex);
        owed.at(index).first->fill(
            owed.at(index).second,
            ControlResponse::success("{\"ok\":true,\"x\":\"" + text + "\"}"));
    }
};

bool nothing_to_read(int fd) {
    pollfd peer{fd, POLLIN, 0};
    return ::poll(&peer, 1, 100) == 0;
}

constexpr const char* kPublishLine =
    "{\"op\":\"publish\",\"room\":\"A\",\"event\":\"e\",\"data\":1}\n";

TEST_F(ControlServerTest, PublishesInFlightDoNotStopTheConnectionReadingAndAreAnsweredInOrder) {
    HeldPublishes publishes;
    start(echo, 4, publishes.pipeline());
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), kPublishLine).ok());
    ASSERT_TRUE(publishes.wait_held(1));
    // The first is not answered, and the next read is taken all the same.
    ASSERT_TRUE(write_all(fd.get(), std::string(kPublishLine) + kPublishLine).ok());
    ASSERT_TRUE(publishes.wait_held(3));

    publishes.answer(2, "third");
    publishes.answer(1, "second");
    EXPECT_TRUE(nothing_to_read(fd.get())) << "the first is still owed";
    publishes.answer(0, "first");
    auto lines = read_lines(fd.get(), 3);
    EXPECT_EQ(lines,
              (std::vector<std::string>{R"({"ok":true,"x":"first"})", R"({"ok":true,"x":"second"})",
                                        R"({"ok":true,"x":"third"})"}));
    EXPECT_EQ(metrics.control_requests.load(), 3u);
}

TEST_F(ControlServerTest, AnotherRequestWaitsForThePublishesBeforeIt) {
    HeldPublishes publishes;
    start(
        [&](std::vector<Result<ControlRequest>> requests, AnswerWriter& writer) {
            publishes.dispatched++;
            return echo(std::move(requests), writer);
        },
        4, publishes.pipeline());
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), kPublishLine).ok());
    ASSERT_TRUE(publishes.wait_held(1));
    ASSERT_TRUE(write_all(fd.get(), "{\"op\":\"stats\"}\n").ok());
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(publishes.dispatched.load(), 0) << "carried out before the publish was answered";
    publishes.answer(0, "published");
    auto lines = read_lines(fd.get(), 2);
    EXPECT_EQ(lines, (std::vector<std::string>{R"({"ok":true,"x":"published"})",
                                               R"({"ok":true,"op":"stats"})"}));
}

TEST_F(ControlServerTest, AClientThatStopsSendingStillGetsTheAnswersOwed) {
    HeldPublishes publishes;
    start(echo, 4, publishes.pipeline());
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), kPublishLine).ok());
    ASSERT_TRUE(publishes.wait_held(1));
    ::shutdown(fd.get(), SHUT_WR);
    std::this_thread::sleep_for(50ms);
    publishes.answer(0, "published");
    EXPECT_EQ(read_lines(fd.get(), 1), std::vector<std::string>{R"({"ok":true,"x":"published"})"});
}

TEST_F(ControlServerTest, APublishNotAnsweredInTimeIsUnavailableAndTheNextOnesStillGo) {
    HeldPublishes publishes;
    publishes.deadline_ms = 200;
    start(echo, 4, publishes.pipeline());
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), kPublishLine).ok());
    auto late = read_lines(fd.get(), 1);
    ASSERT_EQ(late.size(), 1u);
    EXPECT_EQ(decode_response(late[0]).error().code, "unavailable");
    publishes.answer(0, "too late");  // dropped: its answer was given
    ASSERT_TRUE(write_all(fd.get(), kPublishLine).ok());
    ASSERT_TRUE(publishes.wait_held(2));
    publishes.answer(1, "second");
    EXPECT_EQ(read_lines(fd.get(), 1), std::vector<std::string>{R"({"ok":true,"x":"second"})"});
    EXPECT_EQ(metrics.control_errors.load(), 1u);
}

TEST_F(ControlServerTest, RequestsAndErrorsAreCountedFromTheResponsesOkField) {
    start([](std::vector<Result<ControlRequest>> requests, AnswerWriter&) {
        ControlAnswers answers;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            // An ok:false answer whose text does not start like one: the field counts, not the
            // text.
            answers.responses.push_back(i == 0 ? ControlResponse{.ok = false, .line = R"({"x":1})"}
                                               : ControlResponse{});
        }
        return answers;
    });
    UniqueFd fd = connect();
    ASSERT_TRUE(
        write_all(fd.get(), "{\"op\":\"rooms\"}\n{\"op\":\"rooms\"}\n{\"op\":\"rooms\"}\n").ok());
    ASSERT_EQ(read_lines(fd.get(), 3).size(), 3u);
    EXPECT_EQ(metrics.control_requests.load(), 3u);
    EXPECT_EQ(metrics.control_errors.load(), 1u);
}

TEST_F(ControlServerTest, ALineOverTheLimitIsAnsweredAndTheNextOneServed) {
    start(echo);
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), std::string(2000, 'x') + "\n{\"op\":\"rooms\"}\n").ok());
    auto lines = read_lines(fd.get(), 2);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(decode_response(lines[0]).error().code, "line_too_long");
    EXPECT_EQ(lines[1], R"({"ok":true,"op":"rooms"})");
}

TEST_F(ControlServerTest, ATailStreamsItsFramesAndItsEndThenCallsBack) {
    auto stream = std::make_shared<TailStream>(1 << 20);
    std::atomic<bool> ended{false};
    start([&](std::vector<Result<ControlRequest>> requests, AnswerWriter& writer) {
        ControlAnswers answers = echo(std::move(requests), writer);
        answers.tail = stream;
        answers.on_tail_end = [&] { ended = true; };
        return answers;
    });
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), "{\"op\":\"tail\",\"room\":\"A\"}\n").ok());
    ASSERT_EQ(read_lines(fd.get(), 1).at(0), R"({"ok":true,"op":"tail"})");
    stream->push(make_frame(R"({"type":"message","seq":1})"));
    stream->end("slow_consumer");
    auto lines = read_lines(fd.get(), 2);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], R"({"type":"message","seq":1})");
    EXPECT_EQ(decode_response(lines[1]).error().code, "slow_consumer");
    for (int i = 0; i < 100 && !ended; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(ended);
}

TEST_F(ControlServerTest, OneConnectionPastTheLimitIsRefused) {
    start(echo, 1);
    UniqueFd first = connect();
    ASSERT_TRUE(write_all(first.get(), "{\"op\":\"rooms\"}\n").ok());
    ASSERT_EQ(read_lines(first.get(), 1).size(), 1u);  // the first is being served
    UniqueFd second = connect();
    auto lines = read_lines(second.get(), 1);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(decode_response(lines[0]).error().code, "too_many_clients");
}

TEST_F(ControlServerTest, ARequestBeingCarriedOutWhenStopComesIsStillAnswered) {
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    start([&](std::vector<Result<ControlRequest>> requests, AnswerWriter& writer) {
        started = true;
        while (!release) std::this_thread::sleep_for(1ms);  // the loop at work on a publish
        return echo(std::move(requests), writer);
    });
    UniqueFd fd = connect();
    ASSERT_TRUE(write_all(fd.get(), "{\"op\":\"rooms\"}\n").ok());
    while (!started) std::this_thread::sleep_for(1ms);
    std::thread stopping([&] { server->stop(); });
    std::this_thread::sleep_for(50ms);  // stop() has shut the connection down by now
    release = true;
    auto lines = read_lines(fd.get(), 1);
    stopping.join();
    ASSERT_EQ(lines.size(), 1u) << "a request carried out must be answered, or it is sent again";
    EXPECT_EQ(lines[0], R"({"ok":true,"op":"rooms"})");
}

TEST_F(ControlServerTest, StopRemovesTheSocketFile) {
    start(echo);
    EXPECT_TRUE(accepts_connections(path));
    server->stop();
    EXPECT_EQ(::access(path.c_str(), F_OK), -1);
}

}  // namespace
}  // namespace rp::sidecar

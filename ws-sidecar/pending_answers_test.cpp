#include "pending_answers.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <thread>

namespace rp::sidecar {
namespace {

bool readable(int fd) {
    pollfd ready{fd, POLLIN, 0};
    return ::poll(&ready, 1, 0) == 1;
}

ControlResponse answer(const char* line) { return ControlResponse::success(line); }

std::vector<std::string> lines_of(const std::vector<ControlResponse>& responses) {
    std::vector<std::string> out;
    for (const ControlResponse& response : responses) out.push_back(response.line);
    return out;
}

TEST(PendingAnswers, AnswersLeaveInRequestOrderWhateverOrderTheyCameIn) {
    PendingAnswers pending(PendingAnswers::Wakeup::eventfd);
    ASSERT_GE(pending.ready_fd(), 0);
    auto first = pending.expect(1000);
    pending.add(answer("error"));
    auto third = pending.expect(1000);
    std::vector<ControlResponse> out;

    pending.fill(third, answer("third"));
    EXPECT_FALSE(readable(pending.ready_fd())) << "the first is still owed: nothing to write";
    pending.take(out, 0);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(pending.owed(), 3u);

    pending.fill(first, answer("first"));
    EXPECT_TRUE(readable(pending.ready_fd()));
    pending.take(out, 0);
    EXPECT_EQ(lines_of(out), (std::vector<std::string>{"first", "error", "third"}));
    EXPECT_EQ(pending.owed(), 0u);
    EXPECT_FALSE(readable(pending.ready_fd()));
}

TEST(PendingAnswers, AnAnswerNotKnownByItsDeadlineIsUnavailableAndALateOneIsDropped) {
    PendingAnswers pending;
    auto slow = pending.expect(100);
    auto quick = pending.expect(200);
    pending.fill(quick, answer("quick"));
    EXPECT_EQ(pending.first_deadline(), 100);
    std::vector<ControlResponse> out;
    pending.take(out, 99);
    EXPECT_TRUE(out.empty());
    pending.take(out, 100);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_FALSE(out[0].ok);
    EXPECT_EQ(decode_response(out[0].line).error().code, "unavailable");
    EXPECT_EQ(out[1].line, "quick");

    pending.fill(slow, answer("late"));  // its place is gone
    out.clear();
    pending.take(out, 100);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(pending.owed(), 0u);
    EXPECT_EQ(pending.first_deadline(), std::nullopt);
}

TEST(PendingAnswers, WaitReturnsWhenTheFirstAnswerComesFromAnotherThread) {
    PendingAnswers pending;  // no eventfd: a publish run waits on its condition variable
    EXPECT_EQ(pending.ready_fd(), -1);
    auto ticket = pending.expect(PendingAnswers::clock_ms() + 60000);
    std::thread broker([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        pending.fill(ticket, answer("done"));
    });
    int64_t started = PendingAnswers::clock_ms();
    pending.wait(started);
    EXPECT_LT(PendingAnswers::clock_ms() - started, 10000) << "woken by the fill, not the deadline";
    broker.join();
    std::vector<ControlResponse> out;
    pending.take(out, 0);
    EXPECT_EQ(lines_of(out), std::vector<std::string>{"done"});
}

}  // namespace
}  // namespace rp::sidecar

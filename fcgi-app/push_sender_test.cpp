#include "push_sender.h"

#include "disk_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_doubles.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test_doubles::FakeSidecar;

class PushSenderTest : public ::testing::Test {
protected:
    void SetUp() override {
        base_ = fs::temp_directory_path() /
                ("rp-push-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(base_);
        fs::create_directories(base_);
        socket_ = base_ + "/c.sock";
        outbox_ = base_ + "/outbox";
    }
    void TearDown() override { fs::remove_all(base_); }

    static bool eventually(const std::function<bool()>& condition) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (condition()) return true;
            std::this_thread::sleep_for(10ms);
        }
        return condition();
    }

    void push_all(PushSender& sender, std::initializer_list<const char*> keys) {
        JsonPtr data = make_object();
        for (const char* key : keys) EXPECT_TRUE(sender.push("room", "job.done", data.get(), key));
    }

    std::string base_, socket_, outbox_;
};

TEST_F(PushSenderTest, SendsInOrderAndEmptiesTheOutbox) {
    FakeSidecar sidecar(socket_);
    PushSender sender(socket_, outbox_, 100);
    ASSERT_TRUE(sender.open().ok());
    sender.start();
    push_all(sender, {"j:queued", "j:started", "j:done"});
    ASSERT_TRUE(eventually([&] { return sender.stats().pending == 0; }));
    EXPECT_EQ(sidecar.keys(), (std::vector<std::string>{"j:queued", "j:started", "j:done"}));
    EXPECT_EQ(sender.stats().sent, 3u);
    sender.stop(0ms);
    EXPECT_EQ(fs::file_size(outbox_ + "/journal"), 0u) << "the journal starts over";
}

// The jobs' records keep the journal until the sender, once the pushes are acked and the
// journal is past its bound, makes a checkpoint (outside its lock) and starts it over; records
// written unsynced are synced by the sender when it is quiet.
TEST_F(PushSenderTest, JobRecordsAreCheckpointedAndTheJournalStartsOver) {
    FakeSidecar sidecar(socket_);
    PushSender sender(socket_, outbox_, 100);
    ASSERT_TRUE(sender.open().ok());
    sender.start();
    const std::string big(1000, 'x');
    for (int i = 0; i < 1100; ++i) {
        auto record = sender.write_job_record("job-" + std::to_string(i), big);
        ASSERT_TRUE(record.ok());
        sender.job_copy_written(true);
    }
    uint64_t before = file_syncs();
    ASSERT_TRUE(eventually([&] { return file_syncs() > before; })) << "synced when quiet";
    EXPECT_GT(fs::file_size(outbox_ + "/journal"), 1u << 20);
    push_all(sender, {"j:done"});
    ASSERT_TRUE(eventually([&] { return fs::file_size(outbox_ + "/journal") == 0; }))
        << "checkpointed and started over once the push was acked";
    sender.stop(0ms);
}

TEST_F(PushSenderTest, WhatTheSidecarNeverAckedIsSentAfterARestart) {
    {
        PushSender sender(socket_, outbox_, 100);  // nobody listens on socket_
        ASSERT_TRUE(sender.open().ok());
        sender.start();
        push_all(sender, {"a", "b"});
        ASSERT_TRUE(eventually([&] { return sender.stats().retries > 0; }));
        sender.stop(0ms);
    }
    FakeSidecar sidecar(socket_);
    PushSender sender(socket_, outbox_, 100);
    ASSERT_TRUE(sender.open().ok());
    EXPECT_EQ(sender.stats().pending, 2u);
    sender.start();
    push_all(sender, {"c"});
    ASSERT_TRUE(eventually([&] { return sender.stats().pending == 0; }));
    EXPECT_EQ(sidecar.keys(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(PushSenderTest, ASidecarThatComesBackGetsEverythingInOrder) {
    PushSender sender(socket_, outbox_, 100);
    ASSERT_TRUE(sender.open().ok());
    sender.start();
    push_all(sender, {"1", "2"});
    ASSERT_TRUE(eventually([&] { return sender.stats().retries > 0; }));
    push_all(sender, {"3"});
    FakeSidecar sidecar(socket_);
    ASSERT_TRUE(eventually([&] { return sender.stats().pending == 0; }));
    EXPECT_EQ(sidecar.keys(), (std::vector<std::string>{"1", "2", "3"}));
    sender.stop(0ms);
}

TEST_F(PushSenderTest, ARefusedPushIsDroppedAndTheRestGoOn) {
    FakeSidecar sidecar(socket_);
    PushSender sender(socket_, outbox_, 100);
    ASSERT_TRUE(sender.open().ok());
    sender.start();
    JsonPtr data = make_object();
    EXPECT_TRUE(sender.push("room", "bad", data.get(), "x"));
    push_all(sender, {"y"});
    ASSERT_TRUE(eventually([&] { return sender.stats().pending == 0; }));
    EXPECT_EQ(sidecar.keys(), (std::vector<std::string>{"y"}));
    EXPECT_EQ(sender.stats().refused, 1u);
    sender.stop(0ms);
}

TEST_F(PushSenderTest, AFullOutboxDropsProgressButKeepsWhatMustBeDelivered) {
    PushSender sender(socket_, outbox_, 2);  // not started: nothing leaves
    ASSERT_TRUE(sender.open().ok());
    push_all(sender, {"q", "s"});
    EXPECT_TRUE(sender.full());
    JsonPtr data = make_object();
    EXPECT_FALSE(sender.push("room", "job.progress", data.get(), "p", PushKind::best_effort));
    EXPECT_TRUE(sender.push("room", "job.done", data.get(), "d", PushKind::must_deliver));
    PushStats stats = sender.stats();
    EXPECT_EQ(stats.pending, 3u);
    EXPECT_EQ(stats.dropped, 1u);
    EXPECT_TRUE(stats.full);
}

}  // namespace
}  // namespace rp::app

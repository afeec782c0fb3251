#include "push_sender.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/line_reader.h"
#include "roompush/unix_socket.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A stand-in for the sidecar's control socket: acks every publish (or refuses those whose event
// is "bad") and remembers the idempotency keys in the order they came.
class FakeSidecar {
public:
    explicit FakeSidecar(const std::string& path) {
        auto fd = listen_unix(path, SocketAccess{0600, std::nullopt}, 8);
        EXPECT_TRUE(fd.ok());
        listener_ = std::move(*fd);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeSidecar() {
        ::shutdown(listener_.get(), SHUT_RDWR);
        thread_.join();
    }
    std::vector<std::string> keys() {
        std::lock_guard lock(mutex_);
        return keys_;
    }

private:
    void serve() {
        for (;;) {
            UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!client.valid()) return;
            LineReader reader(1 << 20);
            char buffer[4096];
            ssize_t got;
            while ((got = ::read(client.get(), buffer, sizeof buffer)) > 0) {
                reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
                while (auto item = reader.next()) answer(client.get(), item->text);
            }
        }
    }
    void answer(int fd, const std::string& line) {
        auto request = decode_request(line);
        ASSERT_TRUE(request.ok());
        if (request->event == "bad") {
            (void)write_all(fd, encode_error_response(make_error("invalid_event", "no")) + "\n");
            return;
        }
        std::lock_guard lock(mutex_);
        keys_.push_back(request->id);
        PublishAck ack;
        ack.seq = keys_.size();
        (void)write_all(fd, encode_publish_response(ack) + "\n");
    }

    UniqueFd listener_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> keys_;
};

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
    EXPECT_TRUE(fs::is_empty(outbox_));
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

#include "push_handler.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>
#include <vector>

#include "job.h"
#include "outbox.h"
#include "roompush/control_codec.h"
#include "test_doubles.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;

using test_doubles::error_code;
using test_doubles::FakeSidecar;
using test_doubles::member;
using test_doubles::StringBody;

class PushHandlerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-pushh-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        base_ = pattern;
        socket_ = base_ + "/control.sock";
        outbox_ = base_ + "/outbox";
        config_.retry_after_s = 7;
    }
    void TearDown() override {
        pushes_.reset();
        sidecar_.reset();
        fs::remove_all(base_);
    }

    // Before the sender, so that the sender (a client of it) goes first.
    void start_sidecar() { sidecar_ = std::make_unique<FakeSidecar>(socket_); }

    void make_pushes(std::size_t limit = 100, bool start = false) {
        pushes_ = std::make_unique<PushSender>(socket_, outbox_, limit);
        ASSERT_TRUE(pushes_->open().ok());
        if (start) pushes_->start();
    }

    HttpResponse post(const std::string& room, const std::string& query, const std::string& body) {
        if (!pushes_) make_pushes();
        body_ = std::make_unique<StringBody>(body);
        HttpRequest request;
        request.method = "POST";
        request.path = "/push/" + room;
        request.query = query;
        request.content_type = "application/json";
        request.content_length = body.size();
        request.body = body_.get();
        PushHandler handler(config_, *pushes_);
        return handler.handle(request, room);
    }

    std::string base_, socket_, outbox_;
    AppConfig config_;
    std::unique_ptr<FakeSidecar>
        sidecar_;  // outlives pushes_: its thread serves one client at a time
    std::unique_ptr<PushSender> pushes_;
    std::unique_ptr<StringBody> body_;
};

TEST_F(PushHandlerTest, RefusesWhatTheSidecarWouldAndJournalsNothing) {
    struct Case {
        std::string room, query, body;
        int status;
        std::string code;
    };
    const std::vector<Case> cases = {
        {"a/b", "", "{}", 400, "invalid_room"},
        {"", "", "{}", 400, "invalid_room"},
        {std::string(129, 'r'), "", "{}", 400, "invalid_room"},
        {"A", "event=a%20b", "{}", 400, "invalid_event"},
        {"A", "event=" + std::string(65, 'e'), "{}", 400, "invalid_event"},
        {"A", "id=" + std::string(201, 'i'), "{}", 400, "invalid_id"},
        {"A", "", "{\"a\":", 400, "bad_json"},
        {"A", "", "", 400, "bad_json"},
        {"A", "", "{} {}", 400, "bad_json"},
        {"A", "", "{\"text\":\"caf\xe9\"}", 400, "invalid_utf8"},
        {"A", "", "\"" + std::string(kMaxPushBody, 'x') + "\"", 413, "body_too_large"},
    };
    for (const Case& c : cases) {
        HttpResponse response = post(c.room, c.query, c.body);
        EXPECT_EQ(response.status, c.status) << c.code << " " << c.query;
        EXPECT_EQ(error_code(response), c.code) << c.query;
        EXPECT_TRUE(body_->at_end()) << c.code << ": the body is drained";
    }
    EXPECT_EQ(pushes_->stats().pending, 0u);
}

TEST_F(PushHandlerTest, AFullOutboxIs503WithRetryAfter) {
    make_pushes(1);
    JsonPtr data = make_object();
    ASSERT_TRUE(pushes_->push("X", "e", data.get(), "k"));
    HttpResponse response = post("A", "", "{\"text\":\"hi\"}");
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(error_code(response), "outbox_full");
    bool retry_after = false;
    for (const auto& [key, value] : response.headers)
        retry_after |= key == "Retry-After" && value == "7";
    EXPECT_TRUE(retry_after);
    EXPECT_EQ(pushes_->stats().pending, 1u);
}

TEST_F(PushHandlerTest, NoSidecarAnswersIs202QueuedAndTheOutboxKeepsIt) {
    make_pushes(100, true);  // nobody listens on socket_
    HttpResponse response =
        post("room.A", "event=note&id=key-1", "{\"text\": \"hi\", \"n\": [1, 2]}");
    ASSERT_EQ(response.status, 202) << response.body;
    EXPECT_EQ(response.body, "{\"room\":\"room.A\",\"id\":\"key-1\",\"queued\":true}\n");
    pushes_->stop(std::chrono::milliseconds(0));
    Outbox outbox(outbox_);
    ASSERT_TRUE(outbox.open().ok());
    ASSERT_EQ(outbox.size(), 1u);
    auto request = decode_request(*outbox.read(outbox.front()));
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(request->room, "room.A");
    EXPECT_EQ(request->event, "note");
    EXPECT_EQ(request->id, "key-1");
    EXPECT_EQ(request->data, "{\"text\":\"hi\",\"n\":[1,2]}") << "compacted by the app's printer";
}

TEST_F(PushHandlerTest, AnAckedPushIs200WithItsSeqAndDefaults) {
    start_sidecar();
    make_pushes(100, true);
    HttpResponse response = post("A", "", "[1]");
    ASSERT_EQ(response.status, 200) << response.body;
    auto body = parse_json(response.body);
    ASSERT_TRUE(body.ok());
    EXPECT_STREQ(member(body->get(), "room")->valuestring, "A");
    EXPECT_EQ(member(body->get(), "seq")->valueint, 1);
    EXPECT_EQ(member(body->get(), "queued"), nullptr);
    std::string id = member(body->get(), "id")->valuestring;
    ASSERT_EQ(id.size(), 5u + 32u) << id;
    EXPECT_EQ(id.substr(0, 5), "http:") << "an id is made up when none is given";
    EXPECT_TRUE(is_valid_job_id(id.substr(5)));

    std::string longest_id(200, 'k');
    response = post("A", "event=x&id=" + longest_id, "1");
    ASSERT_EQ(response.status, 200) << response.body;
    auto requests = sidecar_->requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].event, "message");
    EXPECT_EQ(requests[0].id, id);
    EXPECT_EQ(requests[1].id, longest_id);
    EXPECT_EQ(pushes_->stats().pending, 0u);
}

TEST_F(PushHandlerTest, ARefusedPushIs502) {
    start_sidecar();
    make_pushes(100, true);
    HttpResponse response = post("A", "event=bad", "{}");
    EXPECT_EQ(response.status, 502);
    EXPECT_EQ(error_code(response), "sidecar_refused");
}

TEST_F(PushHandlerTest, AnOutboxThatCannotBeWrittenIs500) {
    make_pushes();
    // The disk takes nothing more, as when it is full: a write past the journal's size fails.
    struct sigaction ignore {};
    struct sigaction previous {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &previous);
    rlimit before{};
    ::getrlimit(RLIMIT_FSIZE, &before);
    rlimit none{0, before.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &none);
    HttpResponse response = post("A", "", "{}");
    ::setrlimit(RLIMIT_FSIZE, &before);
    ::sigaction(SIGXFSZ, &previous, nullptr);
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(error_code(response), "spool_error");
}

}  // namespace
}  // namespace rp::app

#include "upload_handler.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "outbox.h"
#include "roompush/control_codec.h"
#include "roompush/room_token.h"
#include "test_doubles.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test_doubles::error_code;
using test_doubles::header;
using test_doubles::member;
using test_doubles::StringBody;

// Far below the handler's 64 KiB reads, so every body comes in pieces for the handler to join.
constexpr std::size_t kChunk = 1000;

constexpr const char* kType = "multipart/form-data; boundary=XyZ";

std::string form(const std::string& room, const std::string& file, const std::string& item = "7") {
    std::string body;
    if (!room.empty()) {
        body += "--XyZ\r\nContent-Disposition: form-data; name=\"roomId\"\r\n\r\n" + room + "\r\n";
    }
    body += "--XyZ\r\nContent-Disposition: form-data; name=\"itemId\"\r\n\r\n" + item + "\r\n";
    if (!file.empty()) {
        body +=
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"part.stl\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" +
            file + "\r\n";
    }
    return body + "--XyZ--\r\n";
}

class UploadHandlerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-upload-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        base_ = pattern;
        config_.spool_dir = base_ + "/spool";
        config_.max_upload = 64 << 10;
        config_.queue = 2;
        config_.retry_after_s = 5;
        store_ = std::make_unique<JobStore>(config_.spool_dir);
        ASSERT_TRUE(store_->prepare().ok());
        make_pushes(1000);
    }
    void TearDown() override {
        if (queue_) queue_->stop();
        pushes_.reset();
        fs::remove_all(base_);
    }

    // Nobody listens on the socket and the sender is not started: pushes stay journaled.
    void make_pushes(std::size_t limit) {
        pushes_.reset();
        pushes_ = std::make_unique<PushSender>(base_ + "/no.sock", store_->outbox_dir(), limit);
        ASSERT_TRUE(pushes_->open().ok());
    }

    HttpResponse post(const std::string& body, std::string content_type = kType,
                      std::string query = "", std::optional<std::size_t> length = std::nullopt) {
        body_ = std::make_unique<StringBody>(body, kChunk);
        HttpRequest request;
        request.method = "POST";
        request.path = "/cad";
        request.query = std::move(query);
        request.content_type = std::move(content_type);
        request.content_length = length ? length : std::optional<std::size_t>(body.size());
        request.body = body_.get();
        return handle(request);
    }

    HttpResponse handle(HttpRequest& request) {
        if (!queue_) queue_ = std::make_unique<JobQueue>(config_.queue, 1, run_);
        JobDispatch dispatch(config_, *queue_, *pushes_, nullptr);
        UploadHandler handler(config_, *store_, dispatch, *pushes_, waiters_, tokens_);
        return handler.handle(request);
    }

    // Nothing of a refused upload is left: no job, no half upload, no event, nothing queued.
    void expect_nothing_left() {
        EXPECT_TRUE(store_->list_ids().empty());
        EXPECT_TRUE(fs::is_empty(config_.spool_dir + "/incoming"));
        EXPECT_EQ(pushes_->stats().pending, 0u);
        if (queue_) {
            EXPECT_EQ(queue_->depth(), 0u);
        }
    }

    std::vector<std::string> journaled_ids() {
        Outbox outbox(store_->outbox_dir());
        EXPECT_TRUE(outbox.open().ok());
        std::vector<std::string> ids;
        while (!outbox.empty()) {
            auto request = decode_request(*outbox.read(outbox.front()));
            EXPECT_TRUE(request.ok());
            ids.push_back(request->room + " " + request->event + " " + request->id);
            outbox.pop_front();
        }
        return ids;
    }

    std::string base_;
    AppConfig config_;
    std::unique_ptr<JobStore> store_;
    std::unique_ptr<PushSender> pushes_;
    std::function<void(const std::string&)> run_ = [](const std::string&) {};
    std::unique_ptr<JobQueue> queue_;
    JobWaiters waiters_;
    RoomTokenMinter tokens_{"", 3600};
    std::unique_ptr<StringBody> body_;
};

TEST_F(UploadHandlerTest, AGoodUploadIsQueuedAndAnswered202) {
    HttpResponse response = post(form("room.A", "solid part"));
    ASSERT_EQ(response.status, 202) << response.body;
    EXPECT_EQ(header(response, "Content-Type"), "application/json");
    auto body = parse_json(response.body);
    ASSERT_TRUE(body.ok()) << response.body;
    std::string id = member(body->get(), "jobId")->valuestring;
    EXPECT_TRUE(is_valid_job_id(id));
    EXPECT_EQ(header(response, "Location"), "/jobs/" + id);
    JsonPtr expected = make_object();
    set_string(expected.get(), "jobId", id);
    set_string(expected.get(), "roomId", "room.A");
    set_string(expected.get(), "itemId", "7");
    set_string(expected.get(), "status", "queued");
    set_string(expected.get(), "ws", "/ws/rooms/room.A");
    EXPECT_EQ(to_json(body->get()), to_json(expected.get())) << "the 202 body of docs/http.md";

    auto job = store_->load(id);
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(job->status, JobStatus::queued);
    EXPECT_EQ(job->room, "room.A");
    EXPECT_EQ(job->item, "7");
    EXPECT_EQ(job->filename, "part.stl");
    EXPECT_EQ(job->size, 10u);
    EXPECT_GT(job->created_ms, 0);
    std::ifstream input(store_->input_path(id));
    std::stringstream text;
    text << input.rdbuf();
    EXPECT_EQ(text.str(), "solid part");
    EXPECT_TRUE(fs::is_empty(config_.spool_dir + "/incoming"));
    EXPECT_EQ(queue_->depth(), 1u);
    EXPECT_EQ(journaled_ids(), (std::vector<std::string>{"room.A job.queued " + id + ":queued"}));
}

TEST_F(UploadHandlerTest, WithASecretThe202CarriesATokenForTheRoom) {
    const std::string secret(32, 's');
    tokens_.set_secret(secret);
    HttpResponse response = post(form("A", "x"));
    ASSERT_EQ(response.status, 202) << response.body;
    auto body = parse_json(response.body);
    const cJSON* token = member(body->get(), "token");
    ASSERT_TRUE(cJSON_IsString(token)) << response.body;
    EXPECT_TRUE(verify_token(token->valuestring, {secret}, "A", now_ms() / 1000).ok());
    EXPECT_FALSE(verify_token(token->valuestring, {secret}, "B", now_ms() / 1000).ok());
}

TEST_F(UploadHandlerTest, NoContentLengthIs411) {
    body_ = std::make_unique<StringBody>(form("A", "x"), kChunk);
    HttpRequest request;
    request.method = "POST";
    request.content_type = kType;
    request.body = body_.get();
    HttpResponse response = handle(request);
    EXPECT_EQ(response.status, 411);
    EXPECT_EQ(error_code(response), "length_required");
    EXPECT_TRUE(body_->at_end()) << "the body is read to its end before the answer";
    expect_nothing_left();
}

TEST_F(UploadHandlerTest, TooLargeIs413WhetherAnnouncedOrFound) {
    std::string big(config_.max_upload, 'x');
    HttpResponse response = post(form("A", big));
    EXPECT_EQ(response.status, 413);
    EXPECT_EQ(error_code(response), "upload_too_large");
    EXPECT_TRUE(body_->at_end());
    expect_nothing_left();
    // A Content-Length that says less than what comes: caught while streaming.
    response = post(form("A", big), kType, "", 100);
    EXPECT_EQ(response.status, 413);
    EXPECT_EQ(error_code(response), "upload_too_large");
    expect_nothing_left();
}

TEST_F(UploadHandlerTest, OtherContentTypesAre415AndABadBoundary400) {
    HttpResponse response = post("roomId=A", "application/x-www-form-urlencoded");
    EXPECT_EQ(response.status, 415);
    EXPECT_EQ(error_code(response), "not_multipart");
    EXPECT_TRUE(body_->at_end());
    response = post(form("A", "x"), "multipart/form-data");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "bad_multipart");
    expect_nothing_left();
}

TEST_F(UploadHandlerTest, MissingFieldsAndAnInvalidRoomAre400AndLeaveNothing) {
    HttpResponse response = post(form("", "x"));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "missing_field");
    expect_nothing_left();
    response = post(form("A", ""));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "missing_field");
    expect_nothing_left();
    response = post(form("a room", "x"));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "invalid_room");
    expect_nothing_left();
    response = post(form("A", "x", "bad\x01item"));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "invalid_item");
    expect_nothing_left();
}

TEST_F(UploadHandlerTest, ATruncatedOrCutOffBodyIs400) {
    std::string body = form("A", "solid");
    HttpResponse response = post(body.substr(0, body.size() - 10));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "bad_multipart");
    expect_nothing_left();

    body_ = std::make_unique<StringBody>(body.substr(0, body.size() - 10), kChunk, true);
    HttpRequest request;
    request.method = "POST";
    request.content_type = kType;
    request.content_length = body.size();
    request.body = body_.get();
    response = handle(request);
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "io_error");
    expect_nothing_left();
}

TEST_F(UploadHandlerTest, AFullQueueIs503WithRetryAfterAndLeavesNothing) {
    ASSERT_EQ(post(form("A", "1")).status, 202);
    ASSERT_EQ(post(form("A", "2")).status, 202);
    HttpResponse response = post(form("A", "3"));
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(error_code(response), "queue_full");
    EXPECT_EQ(header(response, "Retry-After"), "5");
    EXPECT_EQ(store_->list_ids().size(), 2u) << "only the two accepted jobs";
    EXPECT_TRUE(fs::is_empty(config_.spool_dir + "/incoming"));
    EXPECT_EQ(queue_->depth(), 2u);
    EXPECT_EQ(pushes_->stats().pending, 2u) << "no job.queued for the refused one";
}

TEST_F(UploadHandlerTest, AFullOutboxIs503BeforeTheBodyIsStored) {
    make_pushes(1);
    JsonPtr data = make_object();
    ASSERT_TRUE(pushes_->push("X", "e", data.get(), "k"));
    ASSERT_TRUE(pushes_->full());
    HttpResponse response = post(form("A", "x"));
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(error_code(response), "outbox_full");
    EXPECT_EQ(header(response, "Retry-After"), "5");
    EXPECT_TRUE(store_->list_ids().empty());
    EXPECT_EQ(queue_->depth(), 0u);
}

TEST_F(UploadHandlerTest, ABadWaitIs400) {
    HttpResponse response = post(form("A", "x"), kType, "wait=soon");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "invalid_wait");
    expect_nothing_left();
}

TEST_F(UploadHandlerTest, AWaitThatEndsInTimeAnswers201WithTheJob) {
    // A worker that finishes the job at once, as the runner would.
    run_ = [this](const std::string& id) {
        auto job = store_->load(id);
        ASSERT_TRUE(job.ok());
        job->status = JobStatus::done;
        job->progress = 100;
        job->result = std::move(*parse_json(R"({"triangles":12})"));
        ASSERT_TRUE(store_->save(*job).ok());
        waiters_.finished(id);
    };
    queue_ = std::make_unique<JobQueue>(config_.queue, 1, run_);
    queue_->start();
    HttpResponse response = post(form("A", "x"), kType, "wait=30");
    ASSERT_EQ(response.status, 201) << response.body;
    auto body = parse_json(response.body);
    ASSERT_TRUE(body.ok());
    std::string id = member(body->get(), "jobId")->valuestring;
    EXPECT_EQ(header(response, "Location"), "/jobs/" + id);
    EXPECT_STREQ(member(body->get(), "status")->valuestring, "done");
    EXPECT_EQ(member(member(body->get(), "result"), "triangles")->valueint, 12);
    EXPECT_STREQ(member(body->get(), "ws")->valuestring, "/ws/rooms/A");
    EXPECT_EQ(member(body->get(), "announced"), nullptr);
}

TEST_F(UploadHandlerTest, AWaitThatRunsOutAnswers202) {
    // The queue is not started: the job cannot finish.
    HttpResponse response = post(form("A", "x"), kType, "wait=0.05");
    ASSERT_EQ(response.status, 202) << response.body;
    auto body = parse_json(response.body);
    EXPECT_STREQ(member(body->get(), "status")->valuestring, "queued");
}

TEST_F(UploadHandlerTest, TheStatusOfEachErrorCode) {
    EXPECT_EQ(upload_error_status("not_multipart"), 415);
    EXPECT_EQ(upload_error_status("upload_too_large"), 413);
    EXPECT_EQ(upload_error_status("field_too_large"), 413);
    EXPECT_EQ(upload_error_status("length_required"), 411);
    EXPECT_EQ(upload_error_status("queue_full"), 503);
    EXPECT_EQ(upload_error_status("outbox_full"), 503);
    EXPECT_EQ(upload_error_status("spool_error"), 500);
    for (const char* code : {"bad_multipart", "missing_field", "invalid_room", "invalid_item",
                             "too_many_files", "unexpected_file", "empty_file", "duplicate_field",
                             "too_many_parts", "invalid_wait", "io_error"}) {
        EXPECT_EQ(upload_error_status(code), 400) << code;
    }
}

}  // namespace
}  // namespace rp::app

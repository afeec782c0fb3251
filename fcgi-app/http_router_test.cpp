#include "http_router.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "roompush/unix_socket.h"
#include "test_doubles.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;

using test_doubles::error_code;
using test_doubles::header;
using test_doubles::member;
using test_doubles::StringBody;

class HttpRouterTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-router-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        base_ = pattern;
        config_.spool_dir = base_ + "/spool";
        config_.control_socket = base_ + "/control.sock";
        store_ = std::make_unique<JobStore>(config_.spool_dir);
        ASSERT_TRUE(store_->prepare().ok());
        make_router(100);
    }
    void TearDown() override {
        router_.reset();
        retries_.reset();
        cancels_.reset();
        runner_.reset();
        uploads_.reset();
        http_pushes_.reset();
        queue_.reset();
        pushes_.reset();
        fs::remove_all(base_);
    }

    // The sender is not started and nobody listens: pushes stay in the outbox.
    void make_router(std::size_t outbox_limit) {
        router_.reset();
        uploads_.reset();
        http_pushes_.reset();
        pushes_ = std::make_unique<PushSender>(config_.control_socket, store_->outbox_dir(),
                                               outbox_limit);
        ASSERT_TRUE(pushes_->open().ok());
        queue_ = std::make_unique<JobQueue>(config_.queue, 1, [](const std::string&) {});
        dispatch_ = std::make_unique<JobDispatch>(config_, *queue_, *pushes_, nullptr);
        uploads_ = std::make_unique<UploadHandler>(config_, *store_, *dispatch_, *pushes_, waiters_,
                                                   tokens_);
        http_pushes_ = std::make_unique<PushHandler>(config_, *pushes_);
        runner_ = std::make_unique<JobRunner>(config_, *store_, *pushes_, waiters_, stop_);
        cancels_ = std::make_unique<JobCanceller>(config_, *store_, *queue_, *runner_, waiters_);
        retries_ = std::make_unique<JobRetrier>(*store_, *dispatch_);
        router_ = std::make_unique<HttpRouter>(config_, *store_, *uploads_, *http_pushes_, *pushes_,
                                               *queue_, *cancels_, retries_.get());
    }

    HttpResponse request(const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& query = "") {
        body_ = std::make_unique<StringBody>(body);
        HttpRequest request;
        request.method = method;
        request.path = path;
        request.query = query;
        request.body = body_.get();
        if (method == "POST") request.content_length = body.size();
        return router_->route(request);
    }

    std::string stored_job(JobStatus status = JobStatus::done, const std::string& room = "A",
                           int64_t created_ms = 1000) {
        Job job;
        job.id = new_job_id();
        job.room = room;
        job.item = "7";
        job.status = status;
        job.created_ms = created_ms;
        job.announced = true;
        std::string incoming = store_->incoming_path(job.id);
        std::ofstream(incoming) << "upload";
        EXPECT_TRUE(store_->create(job, incoming).ok());
        return job.id;
    }

    std::string base_;
    AppConfig config_;
    std::unique_ptr<JobStore> store_;
    std::unique_ptr<PushSender> pushes_;
    std::unique_ptr<JobQueue> queue_;
    std::unique_ptr<JobDispatch> dispatch_;
    JobWaiters waiters_;
    RoomTokenMinter tokens_{"", 3600};
    std::unique_ptr<UploadHandler> uploads_;
    std::unique_ptr<PushHandler> http_pushes_;
    std::atomic<bool> stop_{false};
    std::unique_ptr<JobRunner> runner_;
    std::unique_ptr<JobCanceller> cancels_;
    std::unique_ptr<JobRetrier> retries_;
    std::unique_ptr<HttpRouter> router_;
    std::unique_ptr<StringBody> body_;
};

TEST_F(HttpRouterTest, AWrongMethodIs405WithAllow) {
    std::string id = stored_job();
    struct Case {
        std::string method, path, allow;
    };
    for (const Case& c : std::vector<Case>{{"GET", "/cad", "POST"},
                                           {"PUT", "/cad", "POST"},
                                           {"POST", "/jobs/" + id, "GET, DELETE"},
                                           {"DELETE", "/jobs/" + id + "/preview.svg", "GET"},
                                           {"GET", "/push/A", "POST"},
                                           {"POST", "/healthz", "GET"},
                                           {"POST", "/metrics/app", "GET"}}) {
        HttpResponse response = request(c.method, c.path, std::string(200000, 'b'));
        EXPECT_EQ(response.status, 405) << c.method << " " << c.path;
        EXPECT_EQ(error_code(response), "method_not_allowed") << c.path;
        EXPECT_EQ(header(response, "Allow"), c.allow) << c.path;
        EXPECT_TRUE(body_->at_end()) << c.path << ": the body is drained";
    }
    EXPECT_EQ(pushes_->stats().pending, 0u);
    EXPECT_EQ(queue_->depth(), 0u);
}

TEST_F(HttpRouterTest, DeleteCancelsAQueuedJobAndTellsItsRoom) {
    std::string id = stored_job(JobStatus::queued);
    queue_->push_recovered(id);
    HttpResponse response = request("DELETE", "/jobs/" + id);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(queue_->depth(), 0u) << "out of the queue: no worker will run it";
    EXPECT_EQ(store_->load(id)->status, JobStatus::cancelled);
    EXPECT_TRUE(store_->load(id)->announced);
    auto body = parse_json(response.body);
    ASSERT_TRUE(body);
    EXPECT_EQ(get_string(body->get(), "status")->value_or(""), "cancelled");
    std::vector<std::string> waiting = pushes_->waiting();
    ASSERT_EQ(waiting.size(), 1u);
    EXPECT_NE(waiting[0].find(R"("event":"job.cancelled")"), std::string::npos) << waiting[0];
    EXPECT_NE(waiting[0].find(R"("id":")" + id + R"(:cancelled")"), std::string::npos);

    HttpResponse again = request("DELETE", "/jobs/" + id);
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(error_code(again), "job_finished");
    EXPECT_EQ(pushes_->waiting().size(), 1u) << "no second job.cancelled";
}

TEST_F(HttpRouterTest, DeleteOfAnEndedOrUnknownJobIsRefused) {
    std::string done = stored_job(JobStatus::done);
    HttpResponse finished = request("DELETE", "/jobs/" + done);
    EXPECT_EQ(finished.status, 409);
    EXPECT_EQ(error_code(finished), "job_finished");
    EXPECT_EQ(store_->load(done)->status, JobStatus::done);
    for (const std::string& path :
         {std::string("/jobs/") + std::string(32, 'a'), std::string("/jobs/../etc"),
          std::string("/jobs/"), std::string("/jobs/") + std::string(5000, 'f')}) {
        HttpResponse response = request("DELETE", path, std::string(5000, 'x'));
        EXPECT_EQ(response.status, 404) << path;
        EXPECT_EQ(error_code(response), "not_found") << path;
        EXPECT_TRUE(body_->at_end()) << path;
    }
    EXPECT_EQ(pushes_->waiting().size(), 0u);
}

TEST_F(HttpRouterTest, GetJobsListsNewestFirstByRoomAndStatus) {
    std::string old_failed = stored_job(JobStatus::failed, "A", 1000);
    std::string new_done = stored_job(JobStatus::done, "A", 3000);
    std::string other_room = stored_job(JobStatus::failed, "B", 2000);
    auto ids = [&](const std::string& query) {
        HttpResponse response = request("GET", "/jobs", "", query);
        EXPECT_EQ(response.status, 200) << query << response.body;
        auto body = parse_json(response.body);
        std::vector<std::string> out;
        const cJSON* job = nullptr;
        cJSON_ArrayForEach(job, member(body->get(), "jobs")) {
            out.push_back(get_string(job, "jobId")->value_or(""));
        }
        return out;
    };
    EXPECT_EQ(ids(""), (std::vector<std::string>{new_done, other_room, old_failed}));
    EXPECT_EQ(ids("room=A"), (std::vector<std::string>{new_done, old_failed}));
    EXPECT_EQ(ids("status=failed"), (std::vector<std::string>{other_room, old_failed}));
    EXPECT_EQ(ids("room=A&status=failed&limit=5"), (std::vector<std::string>{old_failed}));
    EXPECT_EQ(ids("limit=1"), (std::vector<std::string>{new_done}));
    EXPECT_TRUE(cJSON_IsTrue(
        member(parse_json(request("GET", "/jobs", "", "limit=1").body)->get(), "truncated")));
    for (auto [query, code] : std::vector<std::pair<std::string, std::string>>{
             {"room=a%20b", "invalid_room"},
             {"room=" + std::string(200, 'r'), "invalid_room"},
             {"status=lost", "invalid_status"},
             {"limit=0", "invalid_limit"},
             {"limit=1001", "invalid_limit"},
             {"limit=-1", "invalid_limit"},
             {"limit=99999999999999999999", "invalid_limit"},
             {"limit=x", "invalid_limit"}}) {
        HttpResponse response = request("GET", "/jobs", "", query);
        EXPECT_EQ(response.status, 400) << query;
        EXPECT_EQ(error_code(response), code) << query;
    }
}

TEST_F(HttpRouterTest, PostRetryRunsAFailedJobAgainAsItsNextAttempt) {
    std::string failed = stored_job(JobStatus::failed);
    std::ofstream(store_->work_dir(failed) + "/left-by-attempt-1") << "x";
    HttpResponse response = request("POST", "/jobs/" + failed + "/retry");
    ASSERT_EQ(response.status, 202) << response.body;
    Job stored = std::move(*store_->load(failed));
    EXPECT_EQ(stored.status, JobStatus::queued);
    EXPECT_EQ(stored.attempt, 2);
    EXPECT_FALSE(stored.announced);
    EXPECT_TRUE(fs::is_empty(store_->work_dir(failed))) << "the next attempt starts empty";
    EXPECT_EQ(queue_->depth(), 1u);
    std::vector<std::string> waiting = pushes_->waiting();
    ASSERT_EQ(waiting.size(), 1u);
    EXPECT_NE(waiting[0].find(R"("id":")" + failed + R"(:a2:queued")"), std::string::npos)
        << waiting[0];
    HttpResponse again = request("POST", "/jobs/" + failed + "/retry");
    EXPECT_EQ(again.status, 409) << "queued now: not retried twice";
    EXPECT_EQ(error_code(again), "job_not_failed");
    std::string done = stored_job(JobStatus::done);
    EXPECT_EQ(request("POST", "/jobs/" + done + "/retry").status, 409);
    EXPECT_EQ(request("POST", "/jobs/" + std::string(32, 'e') + "/retry").status, 404);
    EXPECT_EQ(request("POST", "/jobs/nope/retry").status, 404);
    EXPECT_EQ(request("GET", "/jobs/" + failed + "/retry").status, 405);
    EXPECT_EQ(queue_->depth(), 1u);
}

TEST_F(HttpRouterTest, AnUnknownPathIs404) {
    for (const char* path :
         {"/", "/cad/", "/cadx", "/jobsx", "/push", "/healthz/x", "/metrics", "/metrics/app/x"}) {
        HttpResponse response = request("GET", path, "xyz");
        EXPECT_EQ(response.status, 404) << path;
        EXPECT_EQ(error_code(response), "not_found") << path;
        EXPECT_TRUE(body_->at_end()) << path;
    }
}

TEST_F(HttpRouterTest, PostCadGoesToTheUploadHandler) {
    body_ = std::make_unique<StringBody>("");
    HttpRequest upload;
    upload.method = "POST";
    upload.path = "/cad";
    upload.body = body_.get();  // no Content-Length: only the upload handler asks for one
    HttpResponse response = router_->route(upload);
    EXPECT_EQ(response.status, 411);
    EXPECT_EQ(error_code(response), "length_required");
}

TEST_F(HttpRouterTest, PostPushGoesToThePushHandlerWithTheRoomOfThePath) {
    HttpResponse response = request("POST", "/push/a b", "{}");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "invalid_room");
    response = request("POST", "/push/room.A", "{");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(error_code(response), "bad_json")
        << "room.A is a good room: the body is what is wrong";
    response = request("POST", "/push/", "{}");
    EXPECT_EQ(error_code(response), "invalid_room");
}

TEST_F(HttpRouterTest, GetJobServesTheStoredJob) {
    std::string id = stored_job();
    HttpResponse response = request("GET", "/jobs/" + id);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(header(response, "Content-Type"), "application/json");
    auto job = store_->load(id);
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(response.body, to_json(job_to_json(*job).get()) + "\n");
    EXPECT_EQ(response.body.find("announced"), std::string::npos);
}

TEST_F(HttpRouterTest, GetJobOfAnUnknownBadOrUnreadableJob) {
    EXPECT_EQ(request("GET", "/jobs/" + new_job_id()).status, 404);
    EXPECT_EQ(error_code(request("GET", "/jobs/" + new_job_id())), "not_found");
    EXPECT_EQ(request("GET", "/jobs/../../etc/passwd").status, 404);
    EXPECT_EQ(request("GET", "/jobs/").status, 404);
    std::string id = new_job_id();
    fs::create_directories(store_->job_dir(id));
    std::ofstream(store_->job_dir(id) + "/job.json") << "{\"jobId\":";
    HttpResponse response = request("GET", "/jobs/" + id);
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(error_code(response), "bad_job");
}

TEST_F(HttpRouterTest, ThePreviewIsServedAsHostileSvg) {
    std::string id = stored_job();
    HttpResponse response = request("GET", "/jobs/" + id + "/preview.svg");
    EXPECT_EQ(response.status, 404) << "no preview written yet";
    std::ofstream(store_->work_dir(id) + "/preview.svg")
        << "<svg xmlns='http://www.w3.org/2000/svg'/>";
    response = request("GET", "/jobs/" + id + "/preview.svg");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "<svg xmlns='http://www.w3.org/2000/svg'/>");
    EXPECT_EQ(header(response, "Content-Type"), "image/svg+xml");
    EXPECT_EQ(header(response, "Content-Security-Policy"),
              "default-src 'none'; style-src 'unsafe-inline'");
    EXPECT_EQ(header(response, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(request("GET", "/jobs/preview.svg").status, 404);
    EXPECT_EQ(request("GET", "/jobs/" + new_job_id() + "/preview.svg").status, 404);
}

TEST_F(HttpRouterTest, HealthzWithoutASidecarIs503AndNamesIt) {
    queue_->push_recovered(new_job_id());
    HttpResponse response = request("GET", "/healthz");
    EXPECT_EQ(response.status, 503);
    auto body = parse_json(response.body);
    ASSERT_TRUE(body.ok()) << response.body;
    EXPECT_STREQ(member(body->get(), "spool")->valuestring, "ok");
    ASSERT_TRUE(cJSON_IsString(member(body->get(), "sidecar")));
    EXPECT_STRNE(member(body->get(), "sidecar")->valuestring, "ok");
    EXPECT_TRUE(cJSON_IsFalse(member(body->get(), "ok")));
    const cJSON* outbox = member(body->get(), "outbox");
    ASSERT_NE(outbox, nullptr);
    std::vector<std::string> fields;
    for (const cJSON* item = outbox->child; item != nullptr; item = item->next)
        fields.emplace_back(item->string);
    EXPECT_EQ(fields, (std::vector<std::string>{"pending", "limit", "full", "sent", "retries",
                                                "refused", "dropped", "failed"}));
    EXPECT_EQ(member(outbox, "limit")->valueint, 100);
    EXPECT_TRUE(cJSON_IsFalse(member(outbox, "full")));
    const cJSON* jobs = member(body->get(), "jobs");
    EXPECT_EQ(member(jobs, "queued")->valueint, 1);
    EXPECT_EQ(member(jobs, "running")->valueint, 0);
}

TEST_F(HttpRouterTest, HealthzIs200WhenSpoolSidecarAndOutboxAreWell) {
    auto sidecar = listen_unix(config_.control_socket, SocketAccess{0600, std::nullopt}, 8);
    ASSERT_TRUE(sidecar.ok());
    HttpResponse response = request("GET", "/healthz");
    ASSERT_EQ(response.status, 200) << response.body;
    auto body = parse_json(response.body);
    EXPECT_STREQ(member(body->get(), "spool")->valuestring, "ok");
    EXPECT_STREQ(member(body->get(), "sidecar")->valuestring, "ok");
    EXPECT_TRUE(cJSON_IsTrue(member(body->get(), "ok")));
}

TEST_F(HttpRouterTest, HealthzIs503WhenTheOutboxIsFull) {
    auto sidecar = listen_unix(config_.control_socket, SocketAccess{0600, std::nullopt}, 8);
    ASSERT_TRUE(sidecar.ok());
    make_router(1);
    JsonPtr data = make_object();
    ASSERT_TRUE(pushes_->push("A", "e", data.get(), "k"));
    HttpResponse response = request("GET", "/healthz");
    EXPECT_EQ(response.status, 503);
    auto body = parse_json(response.body);
    EXPECT_STREQ(member(body->get(), "sidecar")->valuestring, "ok");
    EXPECT_TRUE(cJSON_IsTrue(member(member(body->get(), "outbox"), "full")));
    EXPECT_EQ(member(member(body->get(), "outbox"), "pending")->valueint, 1);
    EXPECT_TRUE(cJSON_IsFalse(member(body->get(), "ok")));
}

TEST_F(HttpRouterTest, HealthzIs503WhenTheSpoolCannotBeWritten) {
    auto sidecar = listen_unix(config_.control_socket, SocketAccess{0600, std::nullopt}, 8);
    ASSERT_TRUE(sidecar.ok());
    fs::remove_all(config_.spool_dir + "/incoming");
    HttpResponse response = request("GET", "/healthz");
    EXPECT_EQ(response.status, 503);
    auto body = parse_json(response.body);
    EXPECT_STRNE(member(body->get(), "spool")->valuestring, "ok");
    EXPECT_TRUE(cJSON_IsFalse(member(body->get(), "ok")));
}

TEST_F(HttpRouterTest, MetricsAreThePrometheusText) {
    queue_->push_recovered(new_job_id());
    queue_->push_recovered(new_job_id());
    HttpResponse response = request("GET", "/metrics/app");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(header(response, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(response.body.find("\nroompush_app_jobs_queued 2\n"), std::string::npos)
        << response.body;
    EXPECT_NE(response.body.find("\nroompush_app_outbox_limit 100\n"), std::string::npos);
}

}  // namespace
}  // namespace rp::app

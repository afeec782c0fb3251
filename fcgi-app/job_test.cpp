#include "job.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rp::app {
namespace {

Job full_job() {
    Job job;
    job.id = "0123456789abcdef0123456789abcdef";
    job.room = "room.A";
    job.item = "item-7";
    job.filename = "part.stl";
    job.size = 684;
    job.status = JobStatus::failed;
    job.created_ms = 1795608778001;
    job.started_ms = 1795608778003;
    job.finished_ms = 1795608778120;
    job.progress = 60;
    job.result = std::move(*parse_json(R"({"error":{"message":"bad facet"},"triangles":12})"));
    job.failure = JobFailure{"exit", "bad facet", 3, 0};
    job.attempt = 2;
    job.announced = true;
    return job;
}

Job round_trip(const Job& job, bool stored) {
    JsonPtr json = job_to_json(job, stored);
    auto text = to_json(json.get());
    auto parsed = parse_json(text);
    EXPECT_TRUE(parsed.ok()) << text;
    auto back = job_from_json(parsed->get());
    EXPECT_TRUE(back.ok()) << text;
    return std::move(*back);
}

TEST(Job, StoredFormRoundTripsEveryField) {
    Job job = full_job();
    Job back = round_trip(job, true);
    EXPECT_EQ(back.id, job.id);
    EXPECT_EQ(back.room, job.room);
    EXPECT_EQ(back.item, job.item);
    EXPECT_EQ(back.filename, job.filename);
    EXPECT_EQ(back.size, job.size);
    EXPECT_EQ(back.status, JobStatus::failed);
    EXPECT_EQ(back.created_ms, job.created_ms);
    EXPECT_EQ(back.started_ms, job.started_ms);
    EXPECT_EQ(back.finished_ms, job.finished_ms);
    EXPECT_EQ(back.progress, 60);
    ASSERT_TRUE(back.result);
    EXPECT_EQ(to_json(back.result.get()), to_json(job.result.get()));
    ASSERT_TRUE(back.failure.has_value());
    EXPECT_EQ(back.failure->reason, "exit");
    EXPECT_EQ(back.failure->message, "bad facet");
    EXPECT_EQ(back.failure->exit_code, 3);
    EXPECT_EQ(back.attempt, 2);
    EXPECT_TRUE(back.announced);
}

TEST(Job, EveryStatusRoundTrips) {
    for (JobStatus status :
         {JobStatus::queued, JobStatus::running, JobStatus::done, JobStatus::failed}) {
        Job job = full_job();
        job.status = status;
        EXPECT_EQ(round_trip(job, true).status, status) << status_name(status);
    }
}

TEST(Job, ServedFormHidesTheJournalOnlyFields) {
    Job job = full_job();
    JsonPtr served = job_to_json(job);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(served.get(), "announced"), nullptr);
    EXPECT_FALSE(round_trip(job, false).announced);

    job.attempt = 1;
    job.started_ms = 0;
    job.finished_ms = 0;
    job.failure.reset();
    job.result.reset();
    served = job_to_json(job);
    for (const char* absent : {"attempt", "started", "finished", "error", "result"}) {
        EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(served.get(), absent), nullptr) << absent;
    }
    for (const char* present :
         {"jobId", "roomId", "itemId", "status", "filename", "size", "created", "progress"}) {
        EXPECT_NE(cJSON_GetObjectItemCaseSensitive(served.get(), present), nullptr) << present;
    }
    Job back = round_trip(job, false);
    EXPECT_EQ(back.attempt, 1);
    EXPECT_FALSE(back.failure.has_value());
}

TEST(Job, ExitCodeOnlyForAnExitAndSignalOnlyWhenThereIsOne) {
    Job job = full_job();
    job.failure = JobFailure{"timeout", "too slow", 0, 15};
    JsonPtr json = job_to_json(job);
    const cJSON* error = cJSON_GetObjectItemCaseSensitive(json.get(), "error");
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(error, "exitCode"), nullptr);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(error, "signal")->valueint, 15);
    EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(error, "reason")->valuestring, "timeout");

    job.failure = JobFailure{"exit", "no", 0, 0};
    json = job_to_json(job);
    error = cJSON_GetObjectItemCaseSensitive(json.get(), "error");
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(error, "exitCode")->valueint, 0);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(error, "signal"), nullptr);
}

TEST(Job, AStoredJobMissingAFieldOrWithAnUnknownStatusIsBad) {
    for (const char* text : {
             R"({"roomId":"A","itemId":"","status":"queued","created":1})",
             R"({"jobId":"x","itemId":"","status":"queued","created":1})",
             R"({"jobId":"x","roomId":"A","status":"queued","created":1})",
             R"({"jobId":"x","roomId":"A","itemId":"","created":1})",
             R"({"jobId":"x","roomId":"A","itemId":"","status":"queued"})",
             R"({"jobId":"x","roomId":"A","itemId":"","status":"lost","created":1})",
             R"({"jobId":"x","roomId":"A","itemId":"","status":"queued","created":"soon"})",
         }) {
        auto json = parse_json(text);
        ASSERT_TRUE(json.ok());
        auto job = job_from_json(json->get());
        ASSERT_FALSE(job.ok()) << text;
        EXPECT_EQ(job.error().code, "bad_job") << text;
    }
}

TEST(Job, EventKeysNameTheAttemptFromTheSecondOn) {
    Job job;
    job.id = "abc";
    EXPECT_EQ(job_event_key(job, "queued"), "abc:queued");
    EXPECT_EQ(job_event_key(job, "done"), "abc:done");
    job.attempt = 2;
    EXPECT_EQ(job_event_key(job, "started"), "abc:a2:started");
    job.attempt = 13;
    EXPECT_EQ(job_event_key(job, "failed"), "abc:a13:failed");
}

TEST(Job, EventDataCarriesIdsStatusAndOutcome) {
    Job job = full_job();
    JsonPtr data = job_event_data(job);
    EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(data.get(), "jobId")->valuestring,
                 job.id.c_str());
    EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(data.get(), "itemId")->valuestring, "item-7");
    EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(data.get(), "status")->valuestring, "failed");
    EXPECT_NE(cJSON_GetObjectItemCaseSensitive(data.get(), "result"), nullptr);
    const cJSON* error = cJSON_GetObjectItemCaseSensitive(data.get(), "error");
    ASSERT_NE(error, nullptr);
    EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(error, "reason")->valuestring, "exit");
    // Not the room (the event goes to it) and nothing of the journal.
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(data.get(), "roomId"), nullptr);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(data.get(), "announced"), nullptr);

    Job queued;
    queued.id = "q";
    data = job_event_data(queued);
    EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(data.get(), "status")->valuestring, "queued");
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(data.get(), "result"), nullptr);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(data.get(), "error"), nullptr);
}

TEST(Job, NewIdsAreValidAndDistinct) {
    std::set<std::string> ids;
    for (int i = 0; i < 100; ++i) {
        std::string id = new_job_id();
        EXPECT_TRUE(is_valid_job_id(id)) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 100u);
}

TEST(Job, OnlyThirtyTwoLowercaseHexDigitsAreAnId) {
    EXPECT_TRUE(is_valid_job_id("0123456789abcdef0123456789abcdef"));
    EXPECT_FALSE(is_valid_job_id("0123456789ABCDEF0123456789abcdef"));
    EXPECT_FALSE(is_valid_job_id("0123456789abcdef0123456789abcde"));
    EXPECT_FALSE(is_valid_job_id("0123456789abcdef0123456789abcdef0"));
    EXPECT_FALSE(is_valid_job_id("../../../../etc/passwd.........."));
    EXPECT_FALSE(is_valid_job_id("0123456789abcdef0123456789abcdeg"));
    EXPECT_FALSE(is_valid_job_id(""));
}

TEST(Job, FinishedMeansDoneOrFailed) {
    EXPECT_FALSE(is_finished(JobStatus::queued));
    EXPECT_FALSE(is_finished(JobStatus::running));
    EXPECT_TRUE(is_finished(JobStatus::done));
    EXPECT_TRUE(is_finished(JobStatus::failed));
}

TEST(Job, ReadFromTextOrABadJobError) {
    Job job;
    job.id = std::string(32, 'a');
    job.room = "R";
    job.item = "7";
    job.created_ms = 1000;
    auto read = job_from_text(to_json(job_to_json(job, true).get()));
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->id, job.id);
    for (const char* text : {"", "{", "[]", "{\"jobId\":1}", "null"}) {
        auto bad = job_from_text(text);
        ASSERT_FALSE(bad.ok()) << text;
        EXPECT_EQ(bad.error().code, "bad_job") << text;
    }
}

}  // namespace
}  // namespace rp::app

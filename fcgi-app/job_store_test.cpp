#include "job_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "disk_io.h"
#include "push_sender.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;

class JobStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-store-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        spool_ = pattern;
        store_ = std::make_unique<JobStore>(spool_);
        ASSERT_TRUE(store_->prepare().ok());
    }
    void TearDown() override { fs::remove_all(spool_); }

    static std::string read(const std::string& path) {
        std::ifstream file(path);
        std::stringstream text;
        text << file.rdbuf();
        return text.str();
    }

    Job make_job(const std::string& id) {
        Job job;
        job.id = id;
        job.room = "A";
        job.item = "7";
        job.filename = "part.stl";
        job.size = 5;
        job.created_ms = 1000;
        return job;
    }

    // An upload as the receiver leaves it in SPOOL/incoming.
    std::string incoming(const std::string& id, const std::string& bytes = "solid") {
        std::string path = store_->incoming_path(id);
        std::ofstream(path) << bytes;
        return path;
    }

    std::string spool_;
    std::unique_ptr<JobStore> store_;
    const std::string id_ = "0123456789abcdef0123456789abcdef";
    const std::string other_ = "fedcba9876543210fedcba9876543210";
};

TEST_F(JobStoreTest, PrepareMakesTheSpoolLayout) {
    EXPECT_TRUE(fs::is_directory(spool_ + "/jobs"));
    EXPECT_TRUE(fs::is_directory(spool_ + "/incoming"));
    EXPECT_TRUE(store_->check_writable().ok());
    EXPECT_EQ(store_->incoming_path(id_), spool_ + "/incoming/" + id_ + ".part");
    EXPECT_EQ(store_->input_path(id_), spool_ + "/jobs/" + id_ + "/input");
    EXPECT_EQ(store_->work_dir(id_), spool_ + "/jobs/" + id_ + "/work");
    EXPECT_EQ(store_->outbox_dir(), spool_ + "/outbox");
}

TEST_F(JobStoreTest, ASharedSpoolKeepsEachNodesOwnFilesApart) {
    JobStore node(spool_, "app1");
    ASSERT_TRUE(node.prepare().ok());
    EXPECT_EQ(node.incoming_path("x"), spool_ + "/nodes/app1/incoming/x.part");
    EXPECT_EQ(node.outbox_dir(), spool_ + "/nodes/app1/outbox");
    EXPECT_EQ(node.job_dir("x"), store_->job_dir("x"));  // the jobs are everyone's
    EXPECT_TRUE(fs::is_directory(spool_ + "/nodes/app1/incoming"));
}

TEST_F(JobStoreTest, ASpoolThatBecomesSharedTakesItsOutboxAlong) {
    fs::create_directories(spool_ + "/outbox");
    std::ofstream(spool_ + "/outbox/journal") << "P 1 {}\n";
    JobStore node(spool_, "app1");
    ASSERT_TRUE(node.prepare().ok());
    EXPECT_FALSE(fs::exists(spool_ + "/outbox"));
    EXPECT_EQ(read(node.outbox_dir() + "/journal"), "P 1 {}\n");
    // Once moved, a second start leaves it where it is.
    ASSERT_TRUE(node.prepare().ok());
    EXPECT_EQ(read(node.outbox_dir() + "/journal"), "P 1 {}\n");
}

TEST_F(JobStoreTest, ASpoolThatCannotBeMadeIsASpoolError) {
    JobStore store("/proc/rp-no-such-spool");
    auto prepared = store.prepare();
    ASSERT_FALSE(prepared.ok());
    EXPECT_EQ(prepared.error().code, "spool_error");
    EXPECT_FALSE(store.check_writable().ok());
}

TEST_F(JobStoreTest, CreateMovesTheUploadAndStoresTheJob) {
    std::string upload = incoming(id_, "solid x");
    ASSERT_TRUE(store_->create(make_job(id_), upload).ok());
    EXPECT_FALSE(fs::exists(upload)) << "moved, not copied";
    EXPECT_EQ(read(store_->input_path(id_)), "solid x");
    EXPECT_TRUE(fs::is_directory(store_->work_dir(id_)));
    EXPECT_TRUE(fs::is_empty(store_->work_dir(id_)));
    auto loaded = store_->load(id_);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded->room, "A");
    EXPECT_EQ(loaded->item, "7");
    EXPECT_EQ(loaded->filename, "part.stl");
    EXPECT_EQ(loaded->status, JobStatus::queued);
}

TEST_F(JobStoreTest, CreateWithoutAnUploadFails) {
    auto created = store_->create(make_job(id_), store_->incoming_path(id_));
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.error().code, "spool_error");
    EXPECT_NE(created.error().message.find("rename"), std::string::npos) << created.error().message;
}

TEST_F(JobStoreTest, CreateTwiceWithOneIdFails) {
    ASSERT_TRUE(store_->create(make_job(id_), incoming(id_)).ok());
    auto again = store_->create(make_job(id_), incoming(id_));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, "spool_error");
}

TEST_F(JobStoreTest, SaveReplacesTheJobAndLeavesNoTemporaryFile) {
    Job job = make_job(id_);
    ASSERT_TRUE(store_->create(job, incoming(id_)).ok());
    job.status = JobStatus::done;
    job.progress = 100;
    job.finished_ms = 2000;
    job.announced = true;
    job.result = std::move(*parse_json(R"({"triangles":12})"));
    ASSERT_TRUE(store_->save(job).ok());
    auto loaded = store_->load(id_);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(loaded->status, JobStatus::done);
    EXPECT_EQ(loaded->progress, 100);
    EXPECT_EQ(loaded->finished_ms, 2000);
    EXPECT_TRUE(loaded->announced) << "the journal keeps announced";
    EXPECT_EQ(to_json(loaded->result.get()), R"({"triangles":12})");
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(store_->job_dir(id_))) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"input", "job.json", "work"}));
}

TEST_F(JobStoreTest, SaveIntoAMissingJobDirFails) {
    auto saved = store_->save(make_job(id_));
    ASSERT_FALSE(saved.ok());
    EXPECT_EQ(saved.error().code, "spool_error");
}

TEST_F(JobStoreTest, BadIdsAreNotFoundAndNeverLeaveTheSpool) {
    // A job.json one level up, where "../x" style ids would lead.
    fs::create_directories(spool_ + "/jobs/" + id_);
    ASSERT_TRUE(store_->save(make_job(id_)).ok());
    for (const std::string& bad :
         {std::string(""), std::string(".."), "../jobs/" + id_,
          std::string("0123456789ABCDEF0123456789ABCDEF"), id_ + "0", id_.substr(1)}) {
        auto loaded = store_->load(bad);
        ASSERT_FALSE(loaded.ok()) << bad;
        EXPECT_EQ(loaded.error().code, "not_found") << bad;
    }
    auto unknown = store_->load(other_);
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, "not_found");
}

TEST_F(JobStoreTest, AnUnreadableJobIsBadNotMissing) {
    fs::create_directories(store_->job_dir(id_));
    std::ofstream(store_->job_dir(id_) + "/job.json") << "{\"jobId\":";
    auto loaded = store_->load(id_);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code, "bad_job");
    std::ofstream(store_->job_dir(id_) + "/job.json") << R"({"jobId":"x"})";
    EXPECT_EQ(store_->load(id_).error().code, "bad_job");
}

TEST_F(JobStoreTest, ListNamesOnlyJobDirectories) {
    ASSERT_TRUE(store_->create(make_job(id_), incoming(id_)).ok());
    fs::create_directories(store_->job_dir(other_));  // half created: no job.json, still listed
    fs::create_directories(spool_ + "/jobs/lost+found");
    std::ofstream(spool_ + "/jobs/README") << "?";
    auto ids = store_->list_ids();
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::string>{id_, other_}));
}

TEST_F(JobStoreTest, ListOfAMissingSpoolIsEmpty) {
    JobStore store(spool_ + "/nothing-here");
    EXPECT_TRUE(store.list_ids().empty());
    EXPECT_EQ(store.clear_incoming(), 0u);
}

TEST_F(JobStoreTest, RemoveTakesTheWholeJob) {
    ASSERT_TRUE(store_->create(make_job(id_), incoming(id_)).ok());
    std::ofstream(store_->work_dir(id_) + "/out.txt") << "x";
    store_->remove(id_);
    EXPECT_FALSE(fs::exists(store_->job_dir(id_)));
    EXPECT_TRUE(store_->list_ids().empty());
    EXPECT_EQ(store_->load(id_).error().code, "not_found");
    store_->remove(id_);  // again: nothing to do, no error
}

TEST_F(JobStoreTest, ClearIncomingRemovesHalfReceivedUploadsOnly) {
    incoming(id_);
    incoming(other_);
    ASSERT_TRUE(store_
                    ->create(make_job("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                             incoming("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
                    .ok());
    EXPECT_EQ(store_->clear_incoming(), 2u);
    EXPECT_TRUE(fs::is_empty(spool_ + "/incoming"));
    EXPECT_TRUE(fs::exists(store_->input_path("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")))
        << "accepted jobs stay";
    EXPECT_EQ(store_->clear_incoming(), 0u);
}

TEST_F(JobStoreTest, ResetWorkDirEmptiesItAndKeepsTheRest) {
    ASSERT_TRUE(store_->create(make_job(id_), incoming(id_, "keep me")).ok());
    fs::create_directories(store_->work_dir(id_) + "/deep/er");
    std::ofstream(store_->work_dir(id_) + "/deep/er/partial.out") << "old run";
    std::ofstream(store_->work_dir(id_) + "/preview.svg") << "<svg/>";
    ASSERT_TRUE(store_->reset_work_dir(id_).ok());
    EXPECT_TRUE(fs::is_directory(store_->work_dir(id_)));
    EXPECT_TRUE(fs::is_empty(store_->work_dir(id_)));
    EXPECT_EQ(read(store_->input_path(id_)), "keep me");
    EXPECT_TRUE(store_->load(id_).ok());
}

TEST_F(JobStoreTest, ResetWorkDirOfAnUnknownJobFails) {
    auto reset = store_->reset_work_dir(id_);
    ASSERT_FALSE(reset.ok());
    EXPECT_EQ(reset.error().code, "spool_error");
}

// With the outbox's journal, a state costs the journal's sync (or none, riding the next one),
// job.json is a copy written without a sync, and a copy that a crash cut is made again from
// the journal's newest record of the job.
TEST_F(JobStoreTest, StatesGoToTheJournalAndACutCopyIsRestored) {
    Job job = make_job(id_);
    {
        PushSender pushes(spool_ + "/no.sock", store_->outbox_dir(), 100);
        ASSERT_TRUE(pushes.open().ok());
        store_->use_journal(&pushes);
        uint64_t before = file_syncs();
        ASSERT_TRUE(store_->create(job, incoming(id_)).ok());
        EXPECT_EQ(file_syncs() - before, 1u) << "the journal's fdatasync, not job.json's fsync";
        job.status = JobStatus::running;
        job.started_ms = 1500;
        before = file_syncs();
        ASSERT_TRUE(store_->save(job, Durability::with_next).ok());
        EXPECT_EQ(file_syncs() - before, 0u);
        ASSERT_TRUE(store_->create(make_job(other_), incoming(other_)).ok());
        store_->remove(other_);
        store_->use_journal(nullptr);
    }
    std::ofstream(store_->job_dir(id_) + "/job.json", std::ios::trunc).flush();
    ASSERT_EQ(store_->load(id_).error().code, "bad_job") << "the copy is cut";

    PushSender reopened(spool_ + "/no.sock", store_->outbox_dir(), 100);
    ASSERT_TRUE(reopened.open().ok());
    EXPECT_EQ(store_->restore_from(reopened.take_job_records()), 1u)
        << "the removed job's record is not brought back";
    auto loaded = store_->load(id_);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded->status, JobStatus::running);
    EXPECT_EQ(loaded->started_ms, 1500);
    EXPECT_FALSE(fs::exists(store_->job_dir(other_)));
}

TEST_F(JobStoreTest, AnUnreadableRecordIsNotRestored) {
    ASSERT_TRUE(store_->create(make_job(id_), incoming(id_)).ok());
    std::string before = read(store_->job_dir(id_) + "/job.json");
    EXPECT_EQ(store_->restore_from({{id_, "{\"jobId\":"}, {"../escape", "{}"}}), 0u);
    EXPECT_EQ(read(store_->job_dir(id_) + "/job.json"), before);
}

}  // namespace
}  // namespace rp::app

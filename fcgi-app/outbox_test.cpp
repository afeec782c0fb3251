#include "outbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "disk_io.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("rp-outbox-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::size_t files() const {
        return static_cast<std::size_t>(
            std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
    }

    // Past the size at which a journal of job records is worth a checkpoint.
    static void fill_with_job_records(Outbox& outbox) {
        const std::string big(1000, 'x');
        for (int i = 0; i < 1100; ++i) {
            ASSERT_TRUE(outbox.append_job("job-" + std::to_string(i), big).ok());
            outbox.job_copy_written(true);
        }
    }

    std::string dir_;
};

TEST_F(OutboxTest, EntriesSurviveAReopenInTheirOrder) {
    {
        Outbox outbox(dir_);
        ASSERT_TRUE(outbox.open().ok());
        for (const char* line : {"one", "two", "three"}) ASSERT_TRUE(outbox.append(line).ok());
        EXPECT_EQ(outbox.size(), 3u);
    }
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    ASSERT_EQ(again.size(), 3u);
    for (const char* expected : {"one", "two", "three"}) {
        auto line = again.read(again.front());
        ASSERT_TRUE(line.ok());
        EXPECT_EQ(*line, expected);
        again.pop_front();
    }
    EXPECT_TRUE(again.empty());
    EXPECT_EQ(fs::file_size(again.journal_path()), 0u) << "an acked journal starts over";
}

TEST_F(OutboxTest, NumberingContinuesAfterTheNewestEntry) {
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    ASSERT_TRUE(outbox.append("a").ok());
    ASSERT_TRUE(outbox.append("b").ok());
    outbox.pop_front();
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    auto next = again.append("c");
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(*next, 3u);
    EXPECT_EQ(*again.read(again.front()), "b") << "the older entry still goes first";
}

TEST_F(OutboxTest, AnOlderVersionsPushFilesAreTakenOverInOrder) {
    fs::create_directories(dir_);
    std::ofstream(dir_ + "/00000000000000000007.push.tmp") << "half";
    std::ofstream(dir_ + "/notes.txt") << "?";
    std::ofstream(dir_ + "/00000000000000000009.push") << "second\n";
    std::ofstream(dir_ + "/00000000000000000005.push") << "first\n";
    {
        Outbox outbox(dir_);
        ASSERT_TRUE(outbox.open().ok());
        EXPECT_EQ(files(), 1u) << "only the journal is left";
    }
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again.line_at(0), "first");
    EXPECT_EQ(again.line_at(1), "second");
}

TEST_F(OutboxTest, AcksAndATornLastRecordAreReadBack) {
    {
        Outbox outbox(dir_);
        ASSERT_TRUE(outbox.open().ok());
        for (const char* line : {"a", "b", "c"}) ASSERT_TRUE(outbox.append(line).ok());
        outbox.pop_front();
    }
    std::ofstream(dir_ + "/journal", std::ios::app) << "P 4 torn by a cra";
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    ASSERT_EQ(again.size(), 2u) << "a acked, the torn record cut off";
    EXPECT_EQ(again.line_at(0), "b");
    auto next = again.append("d");
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(*next, 4u);
    Outbox third(dir_);
    ASSERT_TRUE(third.open().ok());
    ASSERT_EQ(third.size(), 3u);
    EXPECT_EQ(third.line_at(2), "d") << "written after the cut, not glued to the torn bytes";
}

TEST_F(OutboxTest, BestEffortPushesStayInMemory) {
    {
        Outbox outbox(dir_);
        ASSERT_TRUE(outbox.open().ok());
        ASSERT_TRUE(outbox.append("must", true).ok());
        ASSERT_TRUE(outbox.append("progress", false).ok());
        EXPECT_EQ(outbox.size(), 2u);
    }
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again.line_at(0), "must");
}

// Group commit: writers waiting at the same moment share the fdatasync.
TEST_F(OutboxTest, ConcurrentWritersShareSyncs) {
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    constexpr int kWriters = 8;
    constexpr int kEach = 50;
    std::mutex serial;  // appends are serialized by the caller, as PushSender does
    uint64_t before = file_syncs();
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) {
                uint64_t entry = 0;
                {
                    std::lock_guard lock(serial);
                    ASSERT_TRUE(outbox.append("x").ok());
                    entry = outbox.written();
                }
                ASSERT_TRUE(outbox.sync_through(entry).ok());
            }
        });
    }
    for (auto& writer : writers) writer.join();
    uint64_t syncs = file_syncs() - before;
    EXPECT_LT(syncs, static_cast<uint64_t>(kWriters * kEach)) << "some syncs were shared";
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    EXPECT_EQ(again.size(), static_cast<std::size_t>(kWriters * kEach));
}

// A write the disk takes only part of (full, as RLIMIT_FSIZE makes it here) leaves no bytes
// behind for the next record to be glued to.
TEST_F(OutboxTest, AHalfWrittenRecordIsCutOff) {
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    ASSERT_TRUE(outbox.append("first").ok());
    struct sigaction ignore {};
    struct sigaction previous {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &previous);
    rlimit before{};
    ::getrlimit(RLIMIT_FSIZE, &before);
    rlimit tight{fs::file_size(outbox.journal_path()) + 5, before.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &tight);
    auto refused = outbox.append("a push the disk has no room for");
    ::setrlimit(RLIMIT_FSIZE, &before);
    ::sigaction(SIGXFSZ, &previous, nullptr);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, "outbox_error");
    ASSERT_TRUE(outbox.append("third").ok());
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again.line_at(0), "first");
    EXPECT_EQ(again.line_at(1), "third");
}

// A job's newest record is what the journal gives back; the pushes around it are unchanged.
TEST_F(OutboxTest, JobRecordsSurviveAReopenNewestFirst) {
    {
        Outbox outbox(dir_);
        ASSERT_TRUE(outbox.open().ok());
        ASSERT_TRUE(outbox.append_job("job-a", R"({"status":"queued"})").ok());
        outbox.job_copy_written(true);
        ASSERT_TRUE(outbox.append("push").ok());
        ASSERT_TRUE(outbox.append_job("job-b", R"({"status":"queued"})").ok());
        outbox.job_copy_written(true);
        ASSERT_TRUE(outbox.append_job("job-a", R"({"status":"done"})").ok());
        outbox.job_copy_written(true);
        EXPECT_FALSE(outbox.all_synced());
        ASSERT_TRUE(outbox.sync_through(outbox.written()).ok());
        EXPECT_TRUE(outbox.all_synced());
    }
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again.line_at(0), "push");
    auto records = again.take_job_records();
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records["job-a"], R"({"status":"done"})");
    EXPECT_EQ(records["job-b"], R"({"status":"queued"})");
    EXPECT_TRUE(again.take_job_records().empty()) << "handed over once";
}

// With job records in it, an acked journal is kept (they are the jobs' durable state) until it
// is big enough to be worth a checkpoint; then one syncfs (run by the caller without its lock)
// lets it start over.
TEST_F(OutboxTest, JobRecordsKeepTheJournalUntilACheckpoint) {
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    ASSERT_TRUE(outbox.append_job("job-a", R"({"status":"queued"})").ok());
    outbox.job_copy_written(true);
    ASSERT_TRUE(outbox.append("push").ok());
    outbox.pop_front();
    EXPECT_GT(fs::file_size(outbox.journal_path()), 0u) << "a small journal is not checkpointed";
    EXPECT_FALSE(outbox.checkpoint_due());

    fill_with_job_records(outbox);
    ASSERT_TRUE(outbox.append("last push").ok());
    outbox.pop_front();
    EXPECT_GT(fs::file_size(outbox.journal_path()), 1u << 20) << "not before the checkpoint";
    auto checkpoint = outbox.checkpoint_due();
    ASSERT_TRUE(checkpoint);
    uint64_t before = file_syncs();
    outbox.checkpoint_done(*checkpoint, sync_file_system(checkpoint->journal->get()));
    EXPECT_EQ(file_syncs() - before, 1u) << "one syncfs for every job.json";
    EXPECT_EQ(fs::file_size(outbox.journal_path()), 0u);
}

// A record whose job.json is still being written is not given up by a checkpoint, nor one
// appended while the syncfs ran: the copy on disk could be older than the state it promised.
TEST_F(OutboxTest, NoCheckpointOverACopyBeingWritten) {
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    fill_with_job_records(outbox);
    ASSERT_TRUE(outbox.append_job("job-late", R"({"status":"running"})").ok());
    ASSERT_TRUE(outbox.append("push").ok());
    outbox.pop_front();
    EXPECT_FALSE(outbox.checkpoint_due()) << "a copy is pending";
    outbox.job_copy_written(true);
    auto checkpoint = outbox.checkpoint_due();
    ASSERT_TRUE(checkpoint);
    ASSERT_TRUE(outbox.append_job("job-during", R"({"status":"done"})").ok());
    outbox.job_copy_written(true);
    outbox.checkpoint_done(*checkpoint, true);
    EXPECT_GT(fs::file_size(outbox.journal_path()), 1u << 20) << "a record came meanwhile";
    ASSERT_TRUE(outbox.append("another").ok());
    outbox.pop_front();
    checkpoint = outbox.checkpoint_due();
    ASSERT_TRUE(checkpoint);
    outbox.checkpoint_done(*checkpoint, true);
    EXPECT_EQ(fs::file_size(outbox.journal_path()), 0u);
}

// A job.json that could not be written leaves its record the only truth: no checkpoint again.
TEST_F(OutboxTest, AFailedCopyStopsCheckpoints) {
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    fill_with_job_records(outbox);
    ASSERT_TRUE(outbox.append_job("job-failed-copy", R"({"status":"done"})").ok());
    outbox.job_copy_written(false);
    ASSERT_TRUE(outbox.append("push").ok());
    outbox.pop_front();
    EXPECT_FALSE(outbox.checkpoint_due());
    Outbox again(dir_);
    ASSERT_TRUE(again.open().ok());
    EXPECT_EQ(again.take_job_records().count("job-failed-copy"), 1u);
}

TEST_F(OutboxTest, AnUnwritableDirectoryIsAClearError) {
    Outbox outbox("/proc/rp-no-such-dir");
    auto opened = outbox.open();
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, "outbox_error");
}

}  // namespace
}  // namespace rp::app

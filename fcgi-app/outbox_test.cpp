#include "outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

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
    EXPECT_EQ(files(), 0u) << "an acked entry leaves the disk";
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

TEST_F(OutboxTest, UnfinishedAppendsAndStrangersAreRemovedAtOpen) {
    fs::create_directories(dir_);
    std::ofstream(dir_ + "/00000000000000000007.push.tmp") << "half";
    std::ofstream(dir_ + "/notes.txt") << "?";
    std::ofstream(dir_ + "/00000000000000000005.push") << "whole\n";
    Outbox outbox(dir_);
    ASSERT_TRUE(outbox.open().ok());
    ASSERT_EQ(outbox.size(), 1u);
    EXPECT_EQ(outbox.front(), 5u);
    EXPECT_EQ(*outbox.read(5), "whole");
    EXPECT_EQ(files(), 1u);
}

TEST_F(OutboxTest, AnUnwritableDirectoryIsAClearError) {
    Outbox outbox("/proc/rp-no-such-dir");
    auto opened = outbox.open();
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, "outbox_error");
}

}  // namespace
}  // namespace rp::app

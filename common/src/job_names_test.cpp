#include "roompush/job_names.h"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(JobNames, EveryStatusReadsBackFromItsName) {
    for (rp::JobStatus status : rp::kJobStatuses) {
        auto read = rp::status_from(rp::status_name(status));
        ASSERT_TRUE(read.ok()) << rp::status_name(status);
        EXPECT_EQ(*read, status);
    }
}

TEST(JobNames, AnUnknownStatusIsABadJob) {
    for (std::string bad : {"", "Done", "done ", "announced", "queued\n"}) {
        auto read = rp::status_from(bad);
        ASSERT_FALSE(read.ok()) << bad;
        EXPECT_EQ(read.error().code, "bad_job");
    }
}

TEST(JobNames, OnlyTheEndsAreFinished) {
    EXPECT_FALSE(rp::is_finished(rp::JobStatus::queued));
    EXPECT_FALSE(rp::is_finished(rp::JobStatus::running));
    EXPECT_TRUE(rp::is_finished(rp::JobStatus::done));
    EXPECT_TRUE(rp::is_finished(rp::JobStatus::failed));
    EXPECT_TRUE(rp::is_finished(rp::JobStatus::cancelled));
}

}  // namespace

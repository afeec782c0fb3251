#include "redis_durability.h"

#include <gtest/gtest.h>

using rp::sidecar::durability_problem;

TEST(RedisDurability, OnlyAnAppendOnlyFileFsyncedBeforeEachAnswerKeepsWhatWasAcked) {
    const std::string with_aof = "# Persistence\r\nloading:0\r\naof_enabled:1\r\n";
    EXPECT_FALSE(durability_problem(with_aof, "always").has_value());
    EXPECT_FALSE(durability_problem(with_aof, "").has_value());  // CONFIG not allowed: unknown
    auto everysec = durability_problem(with_aof, "everysec");
    ASSERT_TRUE(everysec.has_value());
    EXPECT_NE(everysec->find("appendfsync everysec"), std::string::npos);
    auto no_aof = durability_problem("# Persistence\r\naof_enabled:0\r\n", "always");
    ASSERT_TRUE(no_aof.has_value());
    EXPECT_NE(no_aof->find("appendonly no"), std::string::npos);
}

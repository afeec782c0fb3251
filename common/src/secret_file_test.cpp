#include "roompush/secret_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace {

class SecretFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/rp-secret-XXXXXX";
        path_ = mkdtemp(pattern);
        path_ += "/secret";
    }
    void TearDown() override {
        ::unlink(path_.c_str());
        ::rmdir(path_.substr(0, path_.rfind('/')).c_str());
    }
    std::string write(const std::string& bytes) {
        std::ofstream(path_, std::ios::binary) << bytes;
        return path_;
    }
    std::string path_;
};

TEST_F(SecretFileTest, TheTrailingNewlineIsNotPartOfTheSecret) {
    auto secret = rp::read_secret_file(write("s3cret\r\n"), {});
    ASSERT_TRUE(secret.ok());
    EXPECT_EQ(*secret, "s3cret");
}

TEST_F(SecretFileTest, EachRuleIsNamed) {
    auto short_one = rp::read_secret_file(write("abc\n"), {.min_bytes = 32, .hint = " (make one)"});
    ASSERT_FALSE(short_one.ok());
    EXPECT_NE(short_one.error().message.find("shorter than 32 bytes (make one)"),
              std::string::npos);
    auto long_one = rp::read_secret_file(write(std::string(513, 'x')), {.max_bytes = 512});
    ASSERT_FALSE(long_one.ok());
    EXPECT_NE(long_one.error().message.find("more than 512"), std::string::npos);
    EXPECT_TRUE(rp::read_secret_file(write(std::string(512, 'x') + "\n"), {.max_bytes = 512}).ok());
    auto two_lines = rp::read_secret_file(write("a\nb\n"), {.one_line = true});
    ASSERT_FALSE(two_lines.ok());
    EXPECT_NE(two_lines.error().message.find("one line"), std::string::npos);
    EXPECT_FALSE(rp::read_secret_file(write("\n"), {}).ok()) << "empty is too short";
    EXPECT_FALSE(rp::read_secret_file(path_ + ".missing", {}).ok());
}

}  // namespace

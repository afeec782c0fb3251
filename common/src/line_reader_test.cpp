#include "roompush/line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

std::vector<std::string> drain(rp::LineReader& reader) {
    std::vector<std::string> out;
    while (auto item = reader.next()) {
        out.push_back(item->kind == rp::LineReader::Item::Kind::line ? item->text : "<too long>");
    }
    return out;
}

TEST(LineReader, JoinsLinesSplitAcrossReads) {
    rp::LineReader reader(100);
    reader.feed("ab");
    EXPECT_TRUE(drain(reader).empty());
    reader.feed("c\r\nde\nf");
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"abc", "de"}));
    reader.feed("\n");
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"f"}));
}

TEST(LineReader, OverlongLineIsReportedOnceAndTheNextLineSurvives) {
    rp::LineReader reader(8);
    reader.feed(std::string(5, 'x'));
    reader.feed(std::string(20, 'x'));
    EXPECT_TRUE(drain(reader).empty());
    EXPECT_LE(reader.pending_bytes(), 9u);
    reader.feed(std::string(1000, 'y'));
    reader.feed("\nok\n");
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"<too long>", "ok"}));
}

TEST(LineReader, LimitIsInclusive) {
    rp::LineReader reader(3);
    reader.feed("abc\nabcd\n");
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"abc", "<too long>"}));
}

TEST(LineReader, LastLineWithoutNewline) {
    rp::LineReader reader(10);
    reader.feed("a\nbc");
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"a"}));
    EXPECT_EQ(reader.take_unterminated(), "bc");
    EXPECT_EQ(reader.take_unterminated(), std::nullopt);
}

}  // namespace

namespace {

TEST(LineReader, ALineAtTheLimitSplitBetweenCrAndLfIsAccepted) {
    rp::LineReader reader(4);
    reader.feed("abcd\r");
    EXPECT_FALSE(reader.next().has_value());
    reader.feed("\n");
    auto item = reader.next();
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(item->kind, rp::LineReader::Item::Kind::line);
    EXPECT_EQ(item->text, "abcd");
}

}  // namespace

#include "program_output.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rp::app {
namespace {

TEST(ProgramOutput, ProgressLinesAndTheLastObjectAsResult) {
    std::vector<int> seen;
    ProgramOutput output([&](const Progress& p) { seen.push_back(p.percent); });
    output.add_line(R"({"progress":10,"stage":"parse"})");
    output.add_line(R"({"progress":10})");
    output.add_line("plain text");
    output.add_line(R"({"partial":1})");
    output.add_line(R"({"progress":150})");
    output.add_line(R"({"progress":"x"})");
    output.add_line(R"([1,2])");
    output.add_line(R"({"format":"stl","triangles":12})");
    EXPECT_EQ(seen, (std::vector<int>{10, 100}));
    ASSERT_NE(output.result(), nullptr);
    EXPECT_EQ(to_json(output.result()), R"({"format":"stl","triangles":12})");
    EXPECT_EQ(output.ignored_lines(), 3u);
}

TEST(ProgramOutput, NoJsonMeansNoResult) {
    ProgramOutput output([](const Progress&) {});
    output.add_line("hello");
    EXPECT_EQ(output.result(), nullptr);
}

const std::string kFffd = "\xEF\xBF\xBD";

// The result is kept, with U+FFFD where the bytes were not UTF-8, as a browser's decoder would
// show them; the job is not lost over them.
TEST(ProgramOutput, LinesThatAreNotUtf8AreReadRepaired) {
    std::vector<Progress> seen;
    ProgramOutput output([&](const Progress& p) { seen.push_back(p); });
    output.add_line("{\"progress\":50,\"stage\":\"h\xFFlf\"}");
    output.add_line(
        "{\"name\":\"caf\xE9\",\"ok\":\"\xC3\xA9\xE2\x82\xAC\",\"cut\":\"\xF0\x9D\x84\"}");
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].stage, "h" + kFffd + "lf");
    ASSERT_NE(output.result(), nullptr);
    EXPECT_EQ(to_json(output.result()), "{\"name\":\"caf" + kFffd +
                                            "\",\"ok\":\"\xC3\xA9\xE2\x82\xAC\",\"cut\":\"" +
                                            kFffd + "\"}");
    EXPECT_EQ(output.repaired_lines(), 2u);
    output.add_line(R"({"fine":true})");
    EXPECT_EQ(output.repaired_lines(), 2u);
}

TEST(ProgramOutput, ALongStageIsCutBetweenCharacters) {
    std::vector<Progress> seen;
    ProgramOutput output([&](const Progress& p) { seen.push_back(p); });
    std::string euros;
    for (int i = 0; i < 30; ++i) euros += "\xE2\x82\xAC";  // 90 bytes; 64 is inside the 22nd
    output.add_line(R"({"progress":1,"stage":")" + euros + R"("})");
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].stage, euros.substr(0, 63));
}

}  // namespace
}  // namespace rp::app

#include "program_output.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace rp::app

// The whole program on files made here: what it prints, its exit code and the preview it writes.
#include "inspect.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace rp::cad {
namespace {

namespace fs = std::filesystem;

class Inspect : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "cad-inspect-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& bytes) {
        fs::path path = dir_ / name;
        std::ofstream(path, std::ios::binary) << bytes;
        return path.string();
    }

    // Runs inspect() and returns {exit code, stdout lines}.
    std::pair<int, std::vector<std::string>> run(const std::string& input, bool with_out = true) {
        InspectOptions options{input, with_out ? dir_.string() : std::string(), 1 << 20};
        ::testing::internal::CaptureStdout();
        ::testing::internal::CaptureStderr();
        int code = inspect(options);
        std::string out = ::testing::internal::GetCapturedStdout();
        ::testing::internal::GetCapturedStderr();
        std::vector<std::string> lines;
        for (std::size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos;
             start = end + 1) {
            lines.push_back(out.substr(start, end - start));
        }
        return {code, lines};
    }

    fs::path dir_;
};

const char* kDxf =
    "0\nSECTION\n2\nENTITIES\n0\nLINE\n10\n0\n20\n0\n11\n3\n21\n4\n0\nCIRCLE\n10\n0\n20\n0\n40\n1\n"
    "0\nENDSEC\n0\nEOF\n";

TEST_F(Inspect, DxfResultAndPreview) {
    auto [code, lines] = run(write("part.dxf", kDxf));
    ASSERT_EQ(code, 0);
    ASSERT_GE(lines.size(), 3u);
    EXPECT_EQ(lines.front(), R"({"progress":0,"stage":"reading"})");
    EXPECT_EQ(lines[lines.size() - 2], R"({"progress":100,"stage":"done"})");
    const std::string& result = lines.back();
    EXPECT_NE(result.find(R"("format":"dxf","entities":2,"counts":{"CIRCLE":1,"LINE":1})"),
              std::string::npos)
        << result;
    EXPECT_NE(result.find(R"("bbox":{"min":[-1,-1],"max":[3,4]})"), std::string::npos) << result;
    EXPECT_NE(result.find(R"("preview":"preview.svg")"), std::string::npos) << result;
    EXPECT_TRUE(fs::exists(dir_ / "preview.svg"));
    EXPECT_FALSE(fs::exists(dir_ / "preview.svg.part"));
}

TEST_F(Inspect, NoOutDirMeansNoPreview) {
    auto [code, lines] = run(write("part.dxf", kDxf), false);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(lines.back().find("preview"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ / "preview.svg"));
}

TEST_F(Inspect, MalformedInputIsAJsonErrorAndExit2) {
    struct Case {
        std::string bytes, code;
    };
    std::vector<Case> cases = {
        {std::string(kDxf).substr(0, 40), "malformed_dxf"},
        {"solid x\nfacet normal 0 0 0\n", "malformed_stl"},
        {std::string(84, '\0') + std::string(10, 'x'), "malformed_stl"},
        {"just some notes, not a drawing\n", "unsupported_format"},
        {"", "unsupported_format"},
        {std::string(2 << 20, '\0'), "too_large"},
    };
    for (const Case& c : cases) {
        auto [code, lines] = run(write("input", c.bytes));
        EXPECT_EQ(code, 2) << c.code;
        ASSERT_FALSE(lines.empty()) << c.code;
        EXPECT_EQ(lines.back().rfind(R"({"error":{"code":")" + c.code + "\"", 0), 0u)
            << lines.back();
        EXPECT_FALSE(fs::exists(dir_ / "preview.svg")) << c.code;
    }
    auto [code, lines] = run((dir_ / "missing").string());
    EXPECT_EQ(code, 2);
    EXPECT_NE(lines.back().find("unreadable"), std::string::npos);
}

}  // namespace
}  // namespace rp::cad

#include "stl_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace rp::cad {
namespace {

using Tri = std::array<std::array<float, 3>, 3>;

// The unit cube [0,1]^3 as 12 outward-facing triangles.
std::vector<Tri> unit_cube() {
    std::vector<Tri> t;
    auto quad = [&](std::array<float, 3> a, std::array<float, 3> b, std::array<float, 3> c,
                    std::array<float, 3> d) {
        t.push_back({a, b, c});
        t.push_back({a, c, d});
    };
    quad({0, 0, 0}, {0, 1, 0}, {1, 1, 0}, {1, 0, 0});  // bottom
    quad({0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1});  // top
    quad({0, 0, 0}, {1, 0, 0}, {1, 0, 1}, {0, 0, 1});  // front
    quad({0, 1, 0}, {0, 1, 1}, {1, 1, 1}, {1, 1, 0});  // back
    quad({0, 0, 0}, {0, 0, 1}, {0, 1, 1}, {0, 1, 0});  // left
    quad({1, 0, 0}, {1, 1, 0}, {1, 1, 1}, {1, 0, 1});  // right
    return t;
}

std::string binary_stl(const std::vector<Tri>& triangles,
                       const std::string& header = "binary cube") {
    std::string out(80, '\0');
    std::memcpy(out.data(), header.data(), std::min<std::size_t>(header.size(), 80));
    uint32_t count = static_cast<uint32_t>(triangles.size());
    out.append(reinterpret_cast<const char*>(&count), 4);
    for (const Tri& tri : triangles) {
        float normal[3] = {0, 0, 0};
        out.append(reinterpret_cast<const char*>(normal), 12);
        for (const auto& v : tri) out.append(reinterpret_cast<const char*>(v.data()), 12);
        out.append(2, '\0');
    }
    return out;
}

std::string ascii_stl(const std::vector<Tri>& triangles) {
    std::string out = "solid cube\n";
    for (const Tri& tri : triangles) {
        out += "  facet normal 0 0 0\n    outer loop\n";
        for (const auto& v : tri) {
            out += "      vertex " + std::to_string(v[0]) + " " + std::to_string(v[1]) + " " +
                   std::to_string(v[2]) + "\n";
        }
        out += "    endloop\n  endfacet\n";
    }
    return out + "endsolid cube\n";
}

void expect_unit_cube(const MeshStats& stats) {
    EXPECT_EQ(stats.triangles, 12u);
    EXPECT_DOUBLE_EQ(stats.area, 6.0);
    EXPECT_NEAR(stats.volume, 1.0, 1e-9);
    for (int i = 0; i < 3; ++i) {
        EXPECT_DOUBLE_EQ(stats.min[i], 0.0);
        EXPECT_DOUBLE_EQ(stats.max[i], 1.0);
    }
}

TEST(StlReader, BinaryCube) {
    auto stats = read_stl(binary_stl(unit_cube()));
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_EQ(stats->format, "stl-binary");
    EXPECT_EQ(stats->name, "binary cube");
    expect_unit_cube(*stats);
}

TEST(StlReader, BinaryThatStartsWithSolidIsStillBinary) {
    auto stats = read_stl(binary_stl(unit_cube(), "solid but binary"));
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->format, "stl-binary");
}

TEST(StlReader, AsciiCube) {
    auto stats = read_stl(ascii_stl(unit_cube()));
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_EQ(stats->format, "stl-ascii");
    EXPECT_EQ(stats->name, "cube");
    expect_unit_cube(*stats);
}

TEST(StlReader, ProgressIsReportedAndGrows) {
    std::vector<Tri> many;
    for (int i = 0; i < 400; ++i) {
        for (const Tri& t : unit_cube()) many.push_back(t);
    }
    std::vector<double> seen;
    auto stats = read_stl(binary_stl(many), [&](double f) { seen.push_back(f); });
    ASSERT_TRUE(stats.ok());
    ASSERT_GE(seen.size(), 10u);
    for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
}

TEST(StlReader, EveryTriangleIsHandedToTheSink) {
    for (const std::string& bytes : {binary_stl(unit_cube()), ascii_stl(unit_cube())}) {
        std::vector<Triangle> seen;
        auto stats = read_stl(bytes, nullptr, [&](const Triangle& t) { seen.push_back(t); });
        ASSERT_TRUE(stats.ok());
        ASSERT_EQ(seen.size(), 12u);
        EXPECT_DOUBLE_EQ(seen[0][1][1], 1.0);  // bottom face, second vertex (0, 1, 0)
    }
    EXPECT_EQ(estimate_triangles(binary_stl(unit_cube())), 12u);
}

struct Bad {
    std::string name;
    std::string bytes;
    std::string code;
};

TEST(StlReader, MalformedInputIsACleanError) {
    std::string binary = binary_stl(unit_cube());
    std::string ascii = ascii_stl(unit_cube());
    std::string nan_binary = binary;
    float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(nan_binary.data() + 84 + 12, &nan, 4);
    std::vector<Bad> cases = {
        {"empty", "", "unsupported_format"},
        {"short", "hello", "unsupported_format"},
        {"truncated binary", binary.substr(0, binary.size() - 7), "malformed_stl"},
        {"count too big",
         [&] {
             std::string b = binary;
             uint32_t c = 0xffffffff;
             std::memcpy(b.data() + 80, &c, 4);
             return b;
         }(),
         "malformed_stl"},
        {"zero triangles", binary_stl({}), "empty_model"},
        {"nan coordinate", nan_binary, "malformed_stl"},
        {"truncated ascii", ascii.substr(0, ascii.size() / 2), "malformed_stl"},
        {"bad number", "solid x\nfacet normal 0 0 0 outer loop vertex 1 2 zz", "malformed_stl"},
        {"missing endsolid", "solid x\n", "malformed_stl"},
        {"no facets", "solid x\nendsolid x\n", "empty_model"},
        {"garbage keyword",
         "solid x\nfacet normal 0 0 0 outer loop vertex 0 0 0 vertex 1 0 0 vertex 0 1 0 endloop "
         "endfacet\nbanana\n",
         "malformed_stl"},
    };
    for (const Bad& bad : cases) {
        auto stats = read_stl(bad.bytes);
        ASSERT_FALSE(stats.ok()) << bad.name;
        EXPECT_EQ(stats.error().code, bad.code) << bad.name << ": " << stats.error().message;
    }
}

}  // namespace
}  // namespace rp::cad

#include "dxf_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace rp::cad {
namespace {

// DXF text from (code, value) pairs, the way AutoCAD writes it (codes right-aligned, CRLF).
std::string pairs(const std::vector<std::pair<int, std::string>>& groups) {
    std::string out;
    for (const auto& [code, value] : groups) {
        std::string c = std::to_string(code);
        out +=
            std::string(3 - std::min<std::size_t>(3, c.size()), ' ') + c + "\r\n" + value + "\r\n";
    }
    return out;
}

std::string drawing(const std::string& entities) {
    return pairs({{999, "made by the test"},
                  {0, "SECTION"},
                  {2, "HEADER"},
                  {9, "$ACADVER"},
                  {1, "AC1015"},
                  {0, "ENDSEC"},
                  {0, "SECTION"},
                  {2, "ENTITIES"}}) +
           entities + pairs({{0, "ENDSEC"}, {0, "EOF"}});
}

std::string line(double x1, double y1, double x2, double y2) {
    return pairs({{0, "LINE"},
                  {8, "0"},
                  {10, std::to_string(x1)},
                  {20, std::to_string(y1)},
                  {30, "0"},
                  {11, std::to_string(x2)},
                  {21, std::to_string(y2)},
                  {31, "0"}});
}

// A 10 x 5 plate: four LINEs, a CIRCLE hole, an ARC, a closed LWPOLYLINE and a POLYLINE.
std::string plate() {
    return drawing(line(0, 0, 10, 0) + line(10, 0, 10, 5) + line(10, 5, 0, 5) + line(0, 5, 0, 0) +
                   pairs({{0, "CIRCLE"}, {10, "3"}, {20, "2.5"}, {40, "1"}}) +
                   pairs({{0, "ARC"}, {10, "7"}, {20, "2.5"}, {40, "1"}, {50, "0"}, {51, "180"}}) +
                   pairs({{0, "LWPOLYLINE"},
                          {90, "4"},
                          {70, "1"},
                          {10, "1"},
                          {20, "1"},
                          {10, "2"},
                          {20, "1"},
                          {10, "2"},
                          {20, "2"},
                          {10, "1"},
                          {20, "2"}}) +
                   pairs({{0, "POLYLINE"},
                          {66, "1"},
                          {70, "0"},
                          {0, "VERTEX"},
                          {10, "8"},
                          {20, "4"},
                          {0, "VERTEX"},
                          {10, "9"},
                          {20, "4"},
                          {0, "SEQEND"}}) +
                   pairs({{0, "TEXT"}, {10, "0"}, {20, "0"}, {1, "label"}}));
}

TEST(DxfReader, CountsExtentsAndLength) {
    auto stats = read_dxf(plate());
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_EQ(stats->entities, 9u);
    EXPECT_EQ(stats->counts.at("LINE"), 4u);
    EXPECT_EQ(stats->counts.at("CIRCLE"), 1u);
    EXPECT_EQ(stats->counts.at("ARC"), 1u);
    EXPECT_EQ(stats->counts.at("LWPOLYLINE"), 1u);
    EXPECT_EQ(stats->counts.at("POLYLINE"), 1u);
    EXPECT_EQ(stats->counts.at("TEXT"), 1u);
    EXPECT_EQ(stats->counts.count("VERTEX"), 0u);
    EXPECT_DOUBLE_EQ(stats->min[0], 0);
    EXPECT_DOUBLE_EQ(stats->min[1], 0);
    EXPECT_DOUBLE_EQ(stats->max[0], 10);
    EXPECT_DOUBLE_EQ(stats->max[1], 5);
    const double pi = std::numbers::pi;
    EXPECT_NEAR(stats->length, 30 + 2 * pi + pi + 4 + 1, 1e-9);
    EXPECT_EQ(stats->paths.size(), 8u);  // everything but the TEXT
}

TEST(DxfReader, ArcExtentsIncludeTheTopOfTheArc) {
    // A half circle above the x axis: its top (y = 2) lies between the end points.
    auto stats = read_dxf(
        drawing(pairs({{0, "ARC"}, {10, "0"}, {20, "0"}, {40, "2"}, {50, "0"}, {51, "180"}})));
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_NEAR(stats->max[1], 2, 1e-12);
    EXPECT_NEAR(stats->min[1], 0, 1e-12);
    EXPECT_NEAR(stats->min[0], -2, 1e-12);
    EXPECT_NEAR(stats->max[0], 2, 1e-12);
}

TEST(DxfReader, ArcThatWrapsThroughZeroDegrees) {
    // From 270 to 90 degrees counter-clockwise: the right half, through 0 degrees.
    auto stats = read_dxf(
        drawing(pairs({{0, "ARC"}, {10, "0"}, {20, "0"}, {40, "1"}, {50, "270"}, {51, "90"}})));
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_NEAR(stats->max[0], 1, 1e-12);
    EXPECT_NEAR(stats->min[0], 0, 1e-12);
    EXPECT_NEAR(stats->length, std::numbers::pi, 1e-12);
}

TEST(DxfReader, LwpolylineBulgeIsAnArc) {
    // Bulge 1 between (0,0) and (2,0) is a counter-clockwise half circle: below the chord.
    auto stats = read_dxf(drawing(pairs({{0, "LWPOLYLINE"},
                                         {90, "2"},
                                         {70, "0"},
                                         {10, "0"},
                                         {20, "0"},
                                         {42, "1"},
                                         {10, "2"},
                                         {20, "0"}})));
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_NEAR(stats->min[1], -1, 1e-9);
    EXPECT_NEAR(stats->max[1], 0, 1e-9);
    EXPECT_NEAR(stats->length, std::numbers::pi, 1e-9);
}

TEST(DxfReader, ProgressIsReportedOnLargeDrawings) {
    std::string entities;
    for (int i = 0; i < 5000; ++i) entities += line(i, 0, i, 1);
    std::vector<double> seen;
    auto stats = read_dxf(drawing(entities), [&](double f) { seen.push_back(f); });
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_EQ(stats->counts.at("LINE"), 5000u);
    ASSERT_GE(seen.size(), 4u);
    for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
}

TEST(DxfReader, RecognisesDxfAndNothingElse) {
    EXPECT_TRUE(looks_like_dxf(plate()));
    EXPECT_TRUE(looks_like_dxf("0\nSECTION\n2\nENTITIES\n"));
    EXPECT_FALSE(looks_like_dxf("solid cube\n"));
    EXPECT_FALSE(looks_like_dxf(""));
    EXPECT_FALSE(looks_like_dxf(std::string(84, '\0')));
}

struct Bad {
    std::string name;
    std::string bytes;
    std::string code;
};

TEST(DxfReader, MalformedInputIsACleanError) {
    std::string good = plate();
    std::vector<Bad> cases = {
        {"not dxf", "hello world", "unsupported_format"},
        {"truncated", good.substr(0, good.size() / 2), "malformed_dxf"},
        {"odd line count", good.substr(0, good.size() - 5), "malformed_dxf"},
        {"no eof", drawing("").substr(0, drawing("").size() - 9), "malformed_dxf"},
        {"bad group code", drawing(pairs({{0, "LINE"}}) + "ab\nx\n"), "malformed_dxf"},
        {"bad number", drawing(pairs({{0, "CIRCLE"}, {10, "1,5"}, {20, "0"}, {40, "1"}})),
         "malformed_dxf"},
        {"negative radius", drawing(pairs({{0, "CIRCLE"}, {10, "0"}, {20, "0"}, {40, "-1"}})),
         "malformed_dxf"},
        {"lwpolyline without vertices", drawing(pairs({{0, "LWPOLYLINE"}, {90, "0"}})),
         "malformed_dxf"},
        {"no entities", drawing(""), "empty_model"},
        {"no entities section", pairs({{0, "SECTION"}, {2, "HEADER"}, {0, "ENDSEC"}, {0, "EOF"}}),
         "empty_model"},
    };
    for (const Bad& bad : cases) {
        auto stats = read_dxf(bad.bytes);
        ASSERT_FALSE(stats.ok()) << bad.name;
        EXPECT_EQ(stats.error().code, bad.code) << bad.name << ": " << stats.error().message;
    }
}

}  // namespace
}  // namespace rp::cad

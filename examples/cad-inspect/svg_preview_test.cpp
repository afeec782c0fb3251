#include "svg_preview.h"

#include <gtest/gtest.h>

#include <string>

namespace rp::cad {
namespace {

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + 1))
        ++n;
    return n;
}

TEST(SvgPreview, MeshIsOnePathPerTriangleAndEscapesTheTitle) {
    std::vector<Triangle> triangles = {{{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}}},
                                       {{{0, 0, 0}, {0, 0, 1}, {1, 0, 0}}}};
    std::string svg = mesh_svg(triangles, "a <b> & \"c\"");
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    EXPECT_EQ(count(svg, "<path "), 2u);
    EXPECT_NE(svg.find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(SvgPreview, EmptyMeshIsStillAPicture) {
    std::string svg = mesh_svg({}, "nothing");
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    EXPECT_EQ(count(svg, "<path "), 0u);
}

TEST(SvgPreview, SamplerKeepsAnEvenSampleOfLargeMeshes) {
    MeshSampler small(100);
    for (int i = 0; i < 100; ++i) small.add({});
    EXPECT_EQ(small.triangles().size(), 100u);
    EXPECT_FALSE(small.sampled());

    MeshSampler large(10 * kMaxPreviewTriangles);
    for (std::size_t i = 0; i < 10 * kMaxPreviewTriangles; ++i) large.add({});
    EXPECT_EQ(large.triangles().size(), kMaxPreviewTriangles);
    EXPECT_TRUE(large.sampled());

    MeshSampler underestimated(10);  // an ASCII estimate far too low: capped all the same
    for (std::size_t i = 0; i < 5 * kMaxPreviewTriangles; ++i) underestimated.add({});
    EXPECT_EQ(underestimated.triangles().size(), 2 * kMaxPreviewTriangles);
    EXPECT_TRUE(underestimated.sampled());
}

TEST(SvgPreview, DrawingPathsAreFittedIntoThePicture) {
    DrawingStats drawing;
    drawing.min = {0, 0};
    drawing.max = {100, 50};
    drawing.paths.push_back({{{0, 0}, {100, 0}, {100, 50}}, true});
    std::string svg = drawing_svg(drawing, "plate");
    EXPECT_EQ(count(svg, "<path "), 1u);
    EXPECT_NE(svg.find("Z\"/>"), std::string::npos);
    // y is flipped: the drawing's y = 0 is near the bottom of the 360 px high picture.
    EXPECT_NE(svg.find("M12.0 294.0"), std::string::npos) << svg;
}

}  // namespace
}  // namespace rp::cad

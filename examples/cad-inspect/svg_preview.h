#pragma once
// Small SVG pictures of a part for the browser: a shaded isometric view of a mesh (painter's
// algorithm, no lighting model beyond one directional light) and a plan view of a 2D drawing.
// The output is self-contained static SVG: no scripts, no external references.

#include <cstddef>
#include <string>
#include <vector>

#include "dxf_reader.h"
#include "stl_reader.h"

namespace rp::cad {

// A preview with more triangles than this would be megabytes of SVG: MeshSampler keeps an even
// sample of about this many.
inline constexpr std::size_t kMaxPreviewTriangles = 20000;

// Collects every n-th triangle, n chosen from an estimate of the total, and never more than
// twice the limit (the estimate of an ASCII file's triangle count is rough).
class MeshSampler {
public:
    explicit MeshSampler(std::size_t expected_triangles);
    void add(const Triangle& triangle);
    const std::vector<Triangle>& triangles() const { return kept_; }
    bool sampled() const { return stride_ > 1 || dropped_; }

private:
    std::size_t stride_;
    std::size_t seen_ = 0;
    bool dropped_ = false;
    std::vector<Triangle> kept_;
};

std::string mesh_svg(const std::vector<Triangle>& triangles, const std::string& title);
std::string drawing_svg(const DrawingStats& drawing, const std::string& title);

}  // namespace rp::cad

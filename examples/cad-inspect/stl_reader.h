#pragma once
// Reads ASCII and binary STL into mesh figures: triangle count, bounding box, surface area and
// enclosed volume. Malformed input is an Error, never a crash.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp::cad {

using Vec3 = std::array<double, 3>;
using Triangle = std::array<Vec3, 3>;

struct MeshStats {
    std::string format;  // "stl-ascii" or "stl-binary"
    std::string name;    // ASCII solid name or binary header text, trimmed
    uint64_t triangles = 0;
    std::array<double, 3> min{};
    std::array<double, 3> max{};
    double area = 0;
    double volume = 0;  // absolute value of the signed volume (meaningful for closed meshes)
};

// `on_progress` gets the fraction of the input consumed, 0.0 to 1.0. `on_triangle` sees every
// triangle in file order (the preview collects a sample of them); both may be empty.
Result<MeshStats> read_stl(std::string_view bytes,
                           const std::function<void(double)>& on_progress = nullptr,
                           const std::function<void(const Triangle&)>& on_triangle = nullptr);

// The triangle count of a binary STL, or a rough guess for ASCII (about 250 bytes a facet).
uint64_t estimate_triangles(std::string_view bytes);

// Whether `bytes` is an STL file by the same rules read_stl uses to pick binary or ASCII.
bool looks_like_stl(std::string_view bytes);

}  // namespace rp::cad

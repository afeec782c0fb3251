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

struct MeshStats {
    std::string format;  // "stl-ascii" or "stl-binary"
    std::string name;    // ASCII solid name or binary header text, trimmed
    uint64_t triangles = 0;
    std::array<double, 3> min{};
    std::array<double, 3> max{};
    double area = 0;
    double volume = 0;  // absolute value of the signed volume (meaningful for closed meshes)
};

// `on_progress` gets the fraction of the input consumed, 0.0 to 1.0.
Result<MeshStats> read_stl(std::string_view bytes,
                           const std::function<void(double)>& on_progress = nullptr);

}  // namespace rp::cad

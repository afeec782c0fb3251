#pragma once
// Reads the ENTITIES section of an ASCII DXF drawing into 2D figures: entity counts per type,
// extents, total drawn length, and the geometry as polylines for the preview. LINE, CIRCLE,
// ARC, LWPOLYLINE (with bulges) and POLYLINE/VERTEX/SEQEND are drawn; other entity types are
// counted only. Z is ignored: the preview and extents are of the XY plane.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/error.h"

namespace rp::cad {

using Point2 = std::array<double, 2>;

// One drawn path; arcs and bulges are already split into short straight pieces.
struct Path2 {
    std::vector<Point2> points;
    bool closed = false;
};

struct DrawingStats {
    uint64_t entities = 0;                   // every entity in ENTITIES (VERTEX/SEQEND excluded)
    std::map<std::string, uint64_t> counts;  // per entity type, e.g. {"LINE": 4}
    Point2 min{};                            // extents of the drawn entities
    Point2 max{};
    double length = 0;         // total length of everything drawn
    std::vector<Path2> paths;  // at most kMaxPreviewPaths, for the preview
    bool paths_truncated = false;
};

inline constexpr std::size_t kMaxPreviewPaths = 20000;

// `on_progress` gets the fraction of the input consumed, 0.0 to 1.0.
Result<DrawingStats> read_dxf(std::string_view bytes,
                              const std::function<void(double)>& on_progress = nullptr);

// Whether `bytes` starts like an ASCII DXF file (comments, then "0 / SECTION").
bool looks_like_dxf(std::string_view bytes);

}  // namespace rp::cad

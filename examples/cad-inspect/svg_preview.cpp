#include "svg_preview.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rp::cad {
namespace {

constexpr double kWidth = 480;
constexpr double kHeight = 360;
constexpr double kMargin = 12;

struct Box2 {
    double min_x = std::numeric_limits<double>::max(), min_y = std::numeric_limits<double>::max();
    double max_x = std::numeric_limits<double>::lowest(),
           max_y = std::numeric_limits<double>::lowest();
    void add(double x, double y) {
        min_x = std::min(min_x, x);
        min_y = std::min(min_y, y);
        max_x = std::max(max_x, x);
        max_y = std::max(max_y, y);
    }
};

// Maps model coordinates into the picture, keeping proportions and flipping y (SVG's y grows
// downwards, a drawing's upwards).
class Fit {
public:
    explicit Fit(const Box2& box) : box_(box) {
        double w = std::max(box.max_x - box.min_x, 1e-12),
               h = std::max(box.max_y - box.min_y, 1e-12);
        scale_ = std::min((kWidth - 2 * kMargin) / w, (kHeight - 2 * kMargin) / h);
        offset_x_ = (kWidth - w * scale_) / 2;
        offset_y_ = (kHeight - h * scale_) / 2;
    }
    double x(double v) const { return offset_x_ + (v - box_.min_x) * scale_; }
    double y(double v) const { return kHeight - offset_y_ - (v - box_.min_y) * scale_; }

private:
    Box2 box_;
    double scale_ = 1, offset_x_ = 0, offset_y_ = 0;
};

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", v);
    return buffer;
}

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                if (static_cast<unsigned char>(c) >= ' ') out += c;
        }
    }
    return out;
}

std::string header(const std::string& title) {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + number(kWidth) + " " +
           number(kHeight) + "\" width=\"" + number(kWidth) + "\" height=\"" + number(kHeight) +
           "\">\n<title>" + escape(title) +
           "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#f7f8fa\"/>\n";
}

// The isometric view: the viewer looks along +(x+y), down at atan(1/sqrt 2) (35.26 degrees).
struct View {
    double x, y, depth;  // screen right, screen up, distance from the viewer
};

View project(const Vec3& p) {
    const double c = std::sqrt(0.5), cos_a = std::sqrt(2.0 / 3.0), sin_a = std::sqrt(1.0 / 3.0);
    double u = c * (p[0] + p[1]);
    return {c * (p[0] - p[1]), p[2] * cos_a + u * sin_a, u * cos_a - p[2] * sin_a};
}

// Brightness of a face under a light from behind the viewer's left shoulder. Normals in STL
// files are often missing or inconsistent, so both sides of a face are lit alike.
double brightness(const Triangle& t) {
    Vec3 ab{t[1][0] - t[0][0], t[1][1] - t[0][1], t[1][2] - t[0][2]};
    Vec3 ac{t[2][0] - t[0][0], t[2][1] - t[0][1], t[2][2] - t[0][2]};
    Vec3 n{ab[1] * ac[2] - ab[2] * ac[1], ab[2] * ac[0] - ab[0] * ac[2],
           ab[0] * ac[1] - ab[1] * ac[0]};
    double length = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    if (length == 0) return 0.5;
    const Vec3 light{-0.48, -0.80, 0.36};  // unit length, pointing at the light
    double dot = (n[0] * light[0] + n[1] * light[1] + n[2] * light[2]) / length;
    return 0.35 + 0.65 * std::fabs(dot);
}

std::string grey_blue(double light) {
    char buffer[8];
    auto channel = [&](double base) {
        return static_cast<int>(std::clamp(base * light, 0.0, 255.0));
    };
    std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", channel(90), channel(150), channel(215));
    return buffer;
}

}  // namespace

MeshSampler::MeshSampler(std::size_t expected_triangles)
    : stride_(std::max<std::size_t>(
          1, (expected_triangles + kMaxPreviewTriangles - 1) / kMaxPreviewTriangles)) {
    kept_.reserve(std::min(expected_triangles, kMaxPreviewTriangles));
}

void MeshSampler::add(const Triangle& triangle) {
    if (seen_++ % stride_ != 0) return;
    if (kept_.size() >= 2 * kMaxPreviewTriangles) {
        dropped_ = true;
        return;
    }
    kept_.push_back(triangle);
}

std::string mesh_svg(const std::vector<Triangle>& triangles, const std::string& title) {
    struct Face {
        std::array<View, 3> v;
        double depth;
        double light;
    };
    std::vector<Face> faces;
    faces.reserve(triangles.size());
    Box2 box;
    for (const Triangle& t : triangles) {
        Face face{{project(t[0]), project(t[1]), project(t[2])}, 0, brightness(t)};
        for (const View& v : face.v) box.add(v.x, v.y);
        face.depth = (face.v[0].depth + face.v[1].depth + face.v[2].depth) / 3;
        faces.push_back(face);
    }
    // Painter's algorithm: the farthest faces first, nearer ones drawn over them.
    std::sort(faces.begin(), faces.end(),
              [](const Face& a, const Face& b) { return a.depth > b.depth; });
    std::string svg = header(title);
    if (faces.empty()) return svg + "</svg>\n";
    Fit fit(box);
    svg += "<g stroke-width=\"0.4\" stroke-linejoin=\"round\">\n";
    for (const Face& face : faces) {
        std::string colour = grey_blue(face.light);
        svg += "<path d=\"M" + number(fit.x(face.v[0].x)) + " " + number(fit.y(face.v[0].y)) + "L" +
               number(fit.x(face.v[1].x)) + " " + number(fit.y(face.v[1].y)) + "L" +
               number(fit.x(face.v[2].x)) + " " + number(fit.y(face.v[2].y)) + "Z\" fill=\"" +
               colour + "\" stroke=\"" + colour + "\"/>\n";
    }
    return svg + "</g>\n</svg>\n";
}

std::string drawing_svg(const DrawingStats& drawing, const std::string& title) {
    std::string svg = header(title);
    Box2 box;
    box.add(drawing.min[0], drawing.min[1]);
    box.add(drawing.max[0], drawing.max[1]);
    Fit fit(box);
    svg +=
        "<g fill=\"none\" stroke=\"#1d4f91\" stroke-width=\"1.2\" stroke-linejoin=\"round\" "
        "stroke-linecap=\"round\">\n";
    for (const Path2& path : drawing.paths) {
        svg += "<path d=\"";
        for (std::size_t i = 0; i < path.points.size(); ++i) {
            svg += (i == 0 ? "M" : "L") + number(fit.x(path.points[i][0])) + " " +
                   number(fit.y(path.points[i][1]));
        }
        svg += path.closed ? "Z\"/>\n" : "\"/>\n";
    }
    return svg + "</g>\n</svg>\n";
}

}  // namespace rp::cad

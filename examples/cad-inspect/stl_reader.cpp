#include "stl_reader.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace rp::cad {
namespace {

using Vec = Vec3;
using TriangleSink = std::function<void(const Triangle&)>;

Error malformed(std::string message) { return make_error("malformed_stl", std::move(message)); }

class Accumulator {
public:
    void add(const Vec& a, const Vec& b, const Vec& c) {
        for (const Vec* v : {&a, &b, &c}) {
            for (int i = 0; i < 3; ++i) {
                stats_.min[i] = std::min(stats_.min[i], (*v)[i]);
                stats_.max[i] = std::max(stats_.max[i], (*v)[i]);
            }
        }
        Vec ab{b[0] - a[0], b[1] - a[1], b[2] - a[2]};
        Vec ac{c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        Vec cross{ab[1] * ac[2] - ab[2] * ac[1], ab[2] * ac[0] - ab[0] * ac[2],
                  ab[0] * ac[1] - ab[1] * ac[0]};
        stats_.area +=
            0.5 * std::sqrt(cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]);
        // Signed volume of the tetrahedron (origin, a, b, c): summed over a closed mesh, the solid.
        signed_volume_ += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) +
                           a[2] * (b[0] * c[1] - b[1] * c[0])) /
                          6.0;
        ++stats_.triangles;
    }
    MeshStats finish(std::string format, std::string name) {
        stats_.format = std::move(format);
        stats_.name = std::move(name);
        stats_.volume = std::fabs(signed_volume_);
        return stats_;
    }

private:
    MeshStats stats_{{},
                     {},
                     0,
                     {std::numeric_limits<double>::max(), std::numeric_limits<double>::max(),
                      std::numeric_limits<double>::max()},
                     {std::numeric_limits<double>::lowest(), std::numeric_limits<double>::lowest(),
                      std::numeric_limits<double>::lowest()},
                     0,
                     0};
    double signed_volume_ = 0;
};

std::string trim(std::string_view text) {
    std::size_t begin = 0, end = text.size();
    while (begin < end && (static_cast<unsigned char>(text[begin]) <= ' ')) ++begin;
    while (end > begin && (static_cast<unsigned char>(text[end - 1]) <= ' ')) --end;
    std::string out;
    for (char c : text.substr(begin, end - begin)) {
        if (c == '\0') break;
        out.push_back(static_cast<unsigned char>(c) < ' ' ? ' ' : c);
    }
    return out;
}

float read_float(const char* p) {
    float value;
    std::memcpy(&value, p, sizeof value);  // STL is little-endian, like this machine
    return value;
}

constexpr std::size_t kBinaryHeader = 84;
constexpr std::size_t kBinaryTriangle = 50;

Result<MeshStats> read_binary(std::string_view bytes,
                              const std::function<void(double)>& on_progress,
                              const TriangleSink& on_triangle) {
    uint32_t count;
    std::memcpy(&count, bytes.data() + 80, sizeof count);
    uint64_t expected = kBinaryHeader + uint64_t{count} * kBinaryTriangle;
    if (expected != bytes.size()) {
        return malformed("binary STL declares " + std::to_string(count) + " triangles (" +
                         std::to_string(expected) + " bytes) but the file has " +
                         std::to_string(bytes.size()) + " bytes");
    }
    if (count == 0) return make_error("empty_model", "the STL file has no triangles");
    Accumulator mesh;
    const uint32_t step = std::max<uint32_t>(1, count / 20);
    for (uint32_t t = 0; t < count; ++t) {
        const char* p = bytes.data() + kBinaryHeader + std::size_t{t} * kBinaryTriangle + 12;
        Triangle v;
        for (int k = 0; k < 3; ++k) {
            for (int i = 0; i < 3; ++i) {
                float value = read_float(p + (k * 3 + i) * 4);
                if (!std::isfinite(value)) {
                    return malformed("triangle " + std::to_string(t + 1) +
                                     " has a coordinate that is not a finite number");
                }
                v[k][i] = value;
            }
        }
        mesh.add(v[0], v[1], v[2]);
        if (on_triangle) on_triangle(v);
        if (on_progress && t % step == 0) on_progress(static_cast<double>(t) / count);
    }
    return mesh.finish("stl-binary", trim(bytes.substr(0, 80)));
}

// A whitespace tokenizer that knows its line number for error messages.
class Tokens {
public:
    explicit Tokens(std::string_view text) : text_(text) {}
    std::string_view next() {
        while (pos_ < text_.size() && static_cast<unsigned char>(text_[pos_]) <= ' ') {
            if (text_[pos_] == '\n') ++line_;
            ++pos_;
        }
        std::size_t start = pos_;
        while (pos_ < text_.size() && static_cast<unsigned char>(text_[pos_]) > ' ') ++pos_;
        return text_.substr(start, pos_ - start);
    }
    std::string rest_of_line() {
        std::size_t end = text_.find('\n', pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::string out = trim(text_.substr(pos_, end - pos_));
        pos_ = end;
        return out;
    }
    std::size_t line() const { return line_; }
    std::size_t position() const { return pos_; }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
};

Status expect(Tokens& tokens, std::string_view word) {
    std::string_view got = tokens.next();
    if (got == word) return ok_status();
    return malformed("line " + std::to_string(tokens.line()) + ": expected \"" + std::string(word) +
                     "\", found \"" + std::string(got.substr(0, 32)) + "\"");
}

Result<double> number(Tokens& tokens) {
    std::string token(tokens.next());
    char* end = nullptr;
    double value = std::strtod(token.c_str(), &end);
    if (token.empty() || end != token.c_str() + token.size() || !std::isfinite(value)) {
        return malformed("line " + std::to_string(tokens.line()) + ": \"" + token.substr(0, 32) +
                         "\" is not a number");
    }
    return value;
}

Result<Vec> vector3(Tokens& tokens) {
    Vec v;
    for (double& component : v) {
        auto value = number(tokens);
        if (!value) return value.error();
        component = *value;
    }
    return v;
}

Status read_facet(Tokens& tokens, Accumulator& mesh, const TriangleSink& on_triangle) {
    if (auto ok = expect(tokens, "normal"); !ok) return ok;
    if (auto normal = vector3(tokens); !normal) return normal.error();
    if (auto ok = expect(tokens, "outer"); !ok) return ok;
    if (auto ok = expect(tokens, "loop"); !ok) return ok;
    Triangle v;
    for (Vec& vertex : v) {
        if (auto ok = expect(tokens, "vertex"); !ok) return ok;
        auto value = vector3(tokens);
        if (!value) return value.error();
        vertex = *value;
    }
    if (auto ok = expect(tokens, "endloop"); !ok) return ok;
    if (auto ok = expect(tokens, "endfacet"); !ok) return ok;
    mesh.add(v[0], v[1], v[2]);
    if (on_triangle) on_triangle(v);
    return ok_status();
}

Result<MeshStats> read_ascii(std::string_view text, const std::function<void(double)>& on_progress,
                             const TriangleSink& on_triangle) {
    Tokens tokens(text);
    if (auto ok = expect(tokens, "solid"); !ok) return ok.error();
    std::string name = tokens.rest_of_line();
    Accumulator mesh;
    uint64_t facets = 0;
    for (;;) {
        std::string_view word = tokens.next();
        if (word == "endsolid") break;
        if (word.empty()) return malformed("the file ends without \"endsolid\" (truncated?)");
        if (word != "facet") {
            return malformed("line " + std::to_string(tokens.line()) +
                             ": expected \"facet\" or \"endsolid\", found \"" +
                             std::string(word.substr(0, 32)) + "\"");
        }
        if (auto ok = read_facet(tokens, mesh, on_triangle); !ok) return ok.error();
        if (on_progress && ++facets % 1000 == 0) {
            on_progress(static_cast<double>(tokens.position()) / static_cast<double>(text.size()));
        }
    }
    MeshStats stats = mesh.finish("stl-ascii", name);
    if (stats.triangles == 0) return make_error("empty_model", "the STL file has no triangles");
    return stats;
}

bool looks_ascii(std::string_view bytes) {
    std::size_t i = 0;
    while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) <= ' ') ++i;
    return bytes.substr(i, 5) == "solid";
}

bool binary_size_matches(std::string_view bytes) {
    if (bytes.size() < kBinaryHeader) return false;
    uint32_t count;
    std::memcpy(&count, bytes.data() + 80, sizeof count);
    return kBinaryHeader + uint64_t{count} * kBinaryTriangle == bytes.size();
}

}  // namespace

uint64_t estimate_triangles(std::string_view bytes) {
    if (binary_size_matches(bytes)) return (bytes.size() - kBinaryHeader) / kBinaryTriangle;
    return bytes.size() / 250;
}

bool looks_like_stl(std::string_view bytes) {
    return binary_size_matches(bytes) || looks_ascii(bytes);
}

Result<MeshStats> read_stl(std::string_view bytes, const std::function<void(double)>& on_progress,
                           const std::function<void(const Triangle&)>& on_triangle) {
    // Some binary files start with "solid" too: an exact size match decides.
    if (binary_size_matches(bytes)) return read_binary(bytes, on_progress, on_triangle);
    if (looks_ascii(bytes)) return read_ascii(bytes, on_progress, on_triangle);
    if (bytes.size() >= kBinaryHeader) return read_binary(bytes, on_progress, on_triangle);
    return make_error("unsupported_format", "not an STL file (too short, and no \"solid\" header)");
}

}  // namespace rp::cad

#include "dxf_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <optional>

namespace rp::cad {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kMaxStep = kPi / 18;  // arcs are drawn in pieces of at most 10 degrees

Error malformed(std::string message) { return make_error("malformed_dxf", std::move(message)); }

// A DXF file is a list of (group code, value) pairs, each on two lines.
struct Group {
    int code = 0;
    std::string value;
    std::size_t line = 0;  // line of the code, for error messages
};

class GroupReader {
public:
    explicit GroupReader(std::string_view text) : text_(text) {}

    // The next pair; std::nullopt at the end of the input, an Error for a broken pair.
    Result<std::optional<Group>> next() {
        std::size_t code_line = line_ + 1;
        auto code_text = next_line();
        if (!code_text) return std::optional<Group>{};
        auto value = next_line();
        if (!value) {
            return malformed("line " + std::to_string(code_line) +
                             ": group code without a value (truncated file?)");
        }
        std::string code_string(*code_text);
        char* end = nullptr;
        long code = std::strtol(code_string.c_str(), &end, 10);
        if (code_string.empty() || end != code_string.c_str() + code_string.size() || code < 0 ||
            code > 1071) {
            return malformed("line " + std::to_string(code_line) + ": \"" +
                             code_string.substr(0, 32) + "\" is not a DXF group code");
        }
        return std::optional<Group>{Group{static_cast<int>(code), std::string(*value), code_line}};
    }

    double fraction() const { return text_.empty() ? 1.0 : double(pos_) / double(text_.size()); }

private:
    std::optional<std::string_view> next_line() {
        if (pos_ >= text_.size()) return std::nullopt;
        std::size_t end = text_.find('\n', pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::string_view line = text_.substr(pos_, end - pos_);
        pos_ = end + 1;
        ++line_;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        return line;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_ = 0;
};

// One entity: its type and its groups in file order (LWPOLYLINE depends on the order).
struct Entity {
    std::string type;
    std::size_t line = 0;
    std::vector<Group> groups;
};

Result<double> number_of(const Group& group) {
    char* end = nullptr;
    double value = std::strtod(group.value.c_str(), &end);
    if (group.value.empty() || end != group.value.c_str() + group.value.size() ||
        !std::isfinite(value)) {
        return malformed("line " + std::to_string(group.line + 1) + ": \"" +
                         group.value.substr(0, 32) + "\" is not a number (group code " +
                         std::to_string(group.code) + ")");
    }
    return value;
}

// The first value of `code` in the entity as a number, or `fallback` (DXF's default) if absent.
Result<double> field(const Entity& entity, int code, double fallback = 0) {
    for (const Group& group : entity.groups) {
        if (group.code == code) return number_of(group);
    }
    return fallback;
}

class Drawing {
public:
    void count(const std::string& type) {
        ++stats_.entities;
        ++stats_.counts[type];
    }

    void add_point(const Point2& p) {
        stats_.min = {std::min(stats_.min[0], p[0]), std::min(stats_.min[1], p[1])};
        stats_.max = {std::max(stats_.max[0], p[0]), std::max(stats_.max[1], p[1])};
    }

    // An arc from angle `start` sweeping `sweep` radians (negative: clockwise); adds it to the
    // extents exactly (endpoints plus every axis crossing) and to `path` as short pieces.
    void add_arc(const Point2& c, double r, double start, double sweep, Path2& path) {
        auto at = [&](double a) { return Point2{c[0] + r * std::cos(a), c[1] + r * std::sin(a)}; };
        add_point(at(start));
        add_point(at(start + sweep));
        double low = sweep < 0 ? start + sweep : start;
        double span = std::fabs(sweep);
        for (int k = 0; k < 4; ++k) {
            double offset = std::fmod(k * kPi / 2 - low, 2 * kPi);
            if (offset < 0) offset += 2 * kPi;
            if (offset <= span) add_point(at(k * kPi / 2));
        }
        int pieces = std::max(1, static_cast<int>(std::ceil(span / kMaxStep)));
        for (int i = path.points.empty() ? 0 : 1; i <= pieces; ++i) {
            path.points.push_back(at(start + sweep * i / pieces));
        }
        stats_.length += r * span;
    }

    void add_segment(const Point2& a, const Point2& b, double bulge, Path2& path) {
        double chord = std::hypot(b[0] - a[0], b[1] - a[1]);
        if (bulge == 0 || chord == 0) {
            if (path.points.empty()) path.points.push_back(a);
            path.points.push_back(b);
            add_point(a);
            add_point(b);
            stats_.length += chord;
            return;
        }
        // A bulge is tan(sweep / 4); the centre sits on the chord's left normal (for a positive,
        // counter-clockwise bulge) at chord/2 * (1 - b^2) / (2b) from the chord's middle.
        double sweep = 4 * std::atan(bulge);
        double offset = chord / 2 * (1 - bulge * bulge) / (2 * bulge);
        Point2 dir{(b[0] - a[0]) / chord, (b[1] - a[1]) / chord};
        Point2 centre{(a[0] + b[0]) / 2 - dir[1] * offset, (a[1] + b[1]) / 2 + dir[0] * offset};
        double r = std::hypot(a[0] - centre[0], a[1] - centre[1]);
        add_arc(centre, r, std::atan2(a[1] - centre[1], a[0] - centre[0]), sweep, path);
    }

    void keep(Path2 path) {
        if (path.points.size() < 2) return;
        if (stats_.paths.size() >= kMaxPreviewPaths) {
            stats_.paths_truncated = true;
            return;
        }
        stats_.paths.push_back(std::move(path));
    }

    DrawingStats finish() { return std::move(stats_); }

private:
    DrawingStats stats_{
        0,
        {},
        {std::numeric_limits<double>::max(), std::numeric_limits<double>::max()},
        {std::numeric_limits<double>::lowest(), std::numeric_limits<double>::lowest()},
        0,
        {},
        false};
};

Status draw_line(const Entity& e, Drawing& drawing) {
    auto x1 = field(e, 10), y1 = field(e, 20), x2 = field(e, 11), y2 = field(e, 21);
    for (auto* v : {&x1, &y1, &x2, &y2}) {
        if (!*v) return v->error();
    }
    Path2 path;
    drawing.add_segment({*x1, *y1}, {*x2, *y2}, 0, path);
    drawing.keep(std::move(path));
    return ok_status();
}

Status draw_circle_or_arc(const Entity& e, Drawing& drawing) {
    auto x = field(e, 10), y = field(e, 20), r = field(e, 40);
    auto start = field(e, 50, 0), end = field(e, 51, 360);
    for (auto* v : {&x, &y, &r, &start, &end}) {
        if (!*v) return v->error();
    }
    if (*r < 0)
        return malformed("line " + std::to_string(e.line) + ": " + e.type +
                         " has a negative radius");
    double sweep = 2 * kPi;
    double from = 0;
    if (e.type == "ARC") {
        // DXF arcs run counter-clockwise from the start to the end angle, in degrees.
        from = *start * kPi / 180;
        sweep = std::fmod(*end - *start, 360.0);
        if (sweep <= 0) sweep += 360;
        sweep *= kPi / 180;
    }
    Path2 path;
    path.closed = e.type == "CIRCLE";
    drawing.add_arc({*x, *y}, *r, from, sweep, path);
    drawing.keep(std::move(path));
    return ok_status();
}

struct Vertex {
    Point2 at{};
    double bulge = 0;
};

void draw_vertices(const std::vector<Vertex>& vertices, bool closed, Drawing& drawing) {
    Path2 path;
    path.closed = closed;
    if (vertices.size() == 1) drawing.add_point(vertices[0].at);
    std::size_t segments = closed ? vertices.size() : vertices.size() - 1;
    for (std::size_t i = 0; vertices.size() > 1 && i < segments; ++i) {
        const Vertex& from = vertices[i];
        drawing.add_segment(from.at, vertices[(i + 1) % vertices.size()].at, from.bulge, path);
    }
    drawing.keep(std::move(path));
}

Status draw_lwpolyline(const Entity& e, Drawing& drawing) {
    std::vector<Vertex> vertices;
    bool closed = false;
    for (const Group& g : e.groups) {
        if (g.code != 10 && g.code != 20 && g.code != 42 && g.code != 70) continue;
        auto value = number_of(g);
        if (!value) return value.error();
        if (g.code == 70) closed = (static_cast<long>(*value) & 1) != 0;
        if (g.code == 10) vertices.push_back({{*value, 0}, 0});
        if ((g.code == 20 || g.code == 42) && vertices.empty()) {
            return malformed("line " + std::to_string(g.line) +
                             ": LWPOLYLINE vertex data before its X");
        }
        if (g.code == 20) vertices.back().at[1] = *value;
        if (g.code == 42) vertices.back().bulge = *value;
    }
    if (vertices.empty())
        return malformed("line " + std::to_string(e.line) + ": LWPOLYLINE without vertices");
    draw_vertices(vertices, closed, drawing);
    return ok_status();
}

// POLYLINE is followed by VERTEX entities and a SEQEND; `vertices` are those entities.
Status draw_polyline(const Entity& polyline, const std::vector<Entity>& vertices,
                     Drawing& drawing) {
    auto flags = field(polyline, 70, 0);
    if (!flags) return flags.error();
    std::vector<Vertex> points;
    for (const Entity& v : vertices) {
        auto x = field(v, 10), y = field(v, 20), bulge = field(v, 42), vflags = field(v, 70);
        for (auto* value : {&x, &y, &bulge, &vflags}) {
            if (!*value) return value->error();
        }
        if (static_cast<long>(*vflags) & 128) continue;  // a polyface's face record, not a point
        points.push_back({{*x, *y}, *bulge});
    }
    if (points.empty())
        return malformed("line " + std::to_string(polyline.line) + ": POLYLINE without vertices");
    draw_vertices(points, (static_cast<long>(*flags) & 1) != 0, drawing);
    return ok_status();
}

Status draw(const Entity& e, const std::vector<Entity>& vertices, Drawing& drawing) {
    drawing.count(e.type);
    if (e.type == "LINE") return draw_line(e, drawing);
    if (e.type == "CIRCLE" || e.type == "ARC") return draw_circle_or_arc(e, drawing);
    if (e.type == "LWPOLYLINE") return draw_lwpolyline(e, drawing);
    if (e.type == "POLYLINE") return draw_polyline(e, vertices, drawing);
    return ok_status();  // counted, not drawn
}

// Reads the pairs of one entity after its "0 / TYPE" pair; stops at (and returns) the next 0.
Result<std::optional<Group>> read_entity(GroupReader& reader, Entity& entity) {
    for (;;) {
        auto group = reader.next();
        if (!group) return group.error();
        if (!*group || (*group)->code == 0) return *group;
        entity.groups.push_back(std::move(**group));
    }
}

class EntitiesSection {
public:
    EntitiesSection(GroupReader& reader, Drawing& drawing,
                    const std::function<void(double)>& on_progress)
        : reader_(reader), drawing_(drawing), on_progress_(on_progress) {}

    // Called after "0 / SECTION, 2 / ENTITIES"; returns after its "0 / ENDSEC".
    Status read() {
        auto group = reader_.next();
        if (!group) return group.error();
        std::optional<Group> current = std::move(*group);
        std::optional<Entity> polyline;
        std::vector<Entity> vertices;
        while (current && current->value != "ENDSEC") {
            if (current->code != 0) {
                return malformed("line " + std::to_string(current->line) +
                                 ": expected an entity (group code 0)");
            }
            Entity entity{current->value, current->line, {}};
            auto next = read_entity(reader_, entity);
            if (!next) return next.error();
            if (auto ok = take(std::move(entity), polyline, vertices); !ok) return ok;
            current = std::move(*next);
            if (on_progress_ && ++entities_ % 1024 == 0) on_progress_(reader_.fraction());
        }
        if (!current) return malformed("the ENTITIES section has no ENDSEC (truncated file?)");
        if (polyline) return draw(*polyline, vertices, drawing_);  // a POLYLINE missing its SEQEND
        return ok_status();
    }

private:
    Status take(Entity entity, std::optional<Entity>& polyline, std::vector<Entity>& vertices) {
        if (polyline && entity.type == "VERTEX") {
            vertices.push_back(std::move(entity));
            return ok_status();
        }
        if (polyline) {
            auto ok = draw(*polyline, vertices, drawing_);
            polyline.reset();
            vertices.clear();
            if (!ok) return ok;
            if (entity.type == "SEQEND") return ok_status();
        }
        if (entity.type == "POLYLINE") {
            polyline = std::move(entity);
            return ok_status();
        }
        if (entity.type == "VERTEX" || entity.type == "SEQEND") return ok_status();  // stray
        return draw(entity, {}, drawing_);
    }

    GroupReader& reader_;
    Drawing& drawing_;
    const std::function<void(double)>& on_progress_;
    uint64_t entities_ = 0;
};

}  // namespace

bool looks_like_dxf(std::string_view bytes) {
    GroupReader reader(bytes.substr(0, 4096));
    for (int i = 0; i < 16; ++i) {
        auto group = reader.next();
        if (!group || !*group) return false;
        if ((*group)->code == 999) continue;  // comment
        return (*group)->code == 0 && (*group)->value == "SECTION";
    }
    return false;
}

Result<DrawingStats> read_dxf(std::string_view bytes,
                              const std::function<void(double)>& on_progress) {
    if (!looks_like_dxf(bytes)) {
        return make_error("unsupported_format",
                          "not an ASCII DXF file (no \"0 / SECTION\" at the start)");
    }
    GroupReader reader(bytes);
    Drawing drawing;
    bool saw_entities = false, saw_eof = false;
    bool section_start = false;  // the previous pair was "0 / SECTION": a section name follows
    for (;;) {
        auto group = reader.next();
        if (!group) return group.error();
        if (!*group) break;
        const Group& g = **group;
        if (g.code == 0 && g.value == "EOF") {
            saw_eof = true;
            break;
        }
        if (section_start && g.code == 2 && g.value == "ENTITIES") {
            saw_entities = true;
            if (auto ok = EntitiesSection(reader, drawing, on_progress).read(); !ok)
                return ok.error();
            section_start = false;
            continue;
        }
        section_start = g.code == 0 && g.value == "SECTION";
    }
    if (!saw_eof) return malformed("the file ends without \"0 / EOF\" (truncated?)");
    DrawingStats stats = drawing.finish();
    if (!saw_entities || stats.entities == 0) {
        return make_error("empty_model", "the DXF drawing has no entities");
    }
    if (stats.min[0] > stats.max[0]) stats.min = stats.max = {0, 0};  // nothing drawable
    return stats;
}

}  // namespace rp::cad

#include "inspect.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "dxf_reader.h"
#include "roompush/json.h"
#include "stl_reader.h"
#include "svg_preview.h"

namespace rp::cad {
namespace {

constexpr int kBadInput = 2;
constexpr std::size_t kReadChunk = 1 << 20;

void emit(const cJSON* json) {
    std::cout << rp::to_json(json) << std::endl;  // flushed: the app reads progress as it comes
}

int fail(const Error& error) {
    JsonPtr out = make_object();
    JsonPtr detail = make_object();
    set_string(detail.get(), "code", error.code);
    set_string(detail.get(), "message", error.message);
    set_json(out.get(), "error", std::move(detail));
    emit(out.get());
    std::cerr << "cad-inspect: " << error.message << "\n";
    return kBadInput;
}

// Maps the stages onto one 0-100 scale (reading 0-20, parsing 20-90, preview 90-99) and prints a
// line only when the percentage moved by at least 5 and 100 ms have passed: the app turns every
// line into a push, and a small file needs none between 0 and 100.
class Progress {
public:
    void report(double fraction, int from, int to, const char* stage) {
        int percent = from + static_cast<int>(fraction * (to - from));
        auto now = std::chrono::steady_clock::now();
        bool final_line = percent == 100 && last_ < 100;
        if (!final_line &&
            (percent < last_ + 5 || now - last_time_ < std::chrono::milliseconds(100)))
            return;
        last_ = percent;
        last_time_ = now;
        JsonPtr line = make_object();
        set_number(line.get(), "progress", percent);
        set_string(line.get(), "stage", stage);
        emit(line.get());
    }
    void start() {
        last_ = -5;
        last_time_ = {};
        report(0, 0, 0, "reading");
    }

private:
    int last_ = -5;
    std::chrono::steady_clock::time_point last_time_{};
};

Result<std::string> read_input(const InspectOptions& options, Progress& progress) {
    struct stat info {};
    if (::stat(options.input.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
        return make_error("unreadable", "cannot read " + options.input);
    }
    const auto size = static_cast<uint64_t>(info.st_size);
    if (size > options.max_bytes) {
        return make_error(
            "too_large", "the file is larger than " + std::to_string(options.max_bytes) + " bytes");
    }
    std::ifstream file(options.input, std::ios::binary);
    if (!file) return make_error("unreadable", "cannot open " + options.input);
    std::string bytes;
    bytes.resize(size);
    std::size_t done = 0;
    while (done < size) {
        std::size_t want = std::min<std::size_t>(kReadChunk, size - done);
        file.read(bytes.data() + done, static_cast<std::streamsize>(want));
        if (file.gcount() <= 0) return make_error("unreadable", "cannot read " + options.input);
        done += static_cast<std::size_t>(file.gcount());
        progress.report(double(done) / double(size), 0, 20, "reading");
    }
    return bytes;
}

JsonPtr numbers(std::initializer_list<double> values) {
    JsonPtr array = make_array();
    for (double v : values) cJSON_AddItemToArray(array.get(), cJSON_CreateNumber(v));
    return array;
}

// Arcs and bulges leave floating-point dust (1e-12) on values that are round in the drawing.
double tidy(double v) { return std::round(v * 1e9) / 1e9 + 0.0; }  // + 0.0: no "-0"

// Writes beside, then renames: nginx serves the file directly and must never see half of it.
bool write_preview(const std::string& out_dir, const std::string& svg) {
    if (out_dir.empty()) return false;
    const std::string path = out_dir + "/preview.svg";
    {
        std::ofstream out(path + ".part", std::ios::binary | std::ios::trunc);
        out << svg;
        if (!out.flush()) {
            std::cerr << "cad-inspect: cannot write " << path << ".part\n";
            return false;
        }
    }
    if (std::rename((path + ".part").c_str(), path.c_str()) != 0) {
        std::cerr << "cad-inspect: cannot rename " << path << ".part\n";
        return false;
    }
    return true;
}

int inspect_stl(const InspectOptions& options, const std::string& bytes, Progress& progress) {
    MeshSampler sampler(static_cast<std::size_t>(estimate_triangles(bytes)));
    auto stats = read_stl(
        bytes, [&](double fraction) { progress.report(fraction, 20, 90, "parsing"); },
        [&](const Triangle& t) { sampler.add(t); });
    if (!stats) return fail(stats.error());
    progress.report(0, 90, 99, "preview");
    bool preview = write_preview(options.out_dir, mesh_svg(sampler.triangles(), stats->name));

    JsonPtr out = make_object();
    set_string(out.get(), "format", stats->format);
    set_string(out.get(), "name", stats->name);
    set_number(out.get(), "triangles", static_cast<double>(stats->triangles));
    JsonPtr bbox = make_object();
    set_json(bbox.get(), "min", numbers({stats->min[0], stats->min[1], stats->min[2]}));
    set_json(bbox.get(), "max", numbers({stats->max[0], stats->max[1], stats->max[2]}));
    set_json(out.get(), "bbox", std::move(bbox));
    set_json(out.get(), "size",
             numbers({stats->max[0] - stats->min[0], stats->max[1] - stats->min[1],
                      stats->max[2] - stats->min[2]}));
    set_number(out.get(), "area", stats->area);
    set_number(out.get(), "volume", stats->volume);
    if (preview) {
        set_string(out.get(), "preview", "preview.svg");
        set_bool(out.get(), "previewSampled", sampler.sampled());
    }
    progress.report(1, 100, 100, "done");
    emit(out.get());
    return 0;
}

int inspect_dxf(const InspectOptions& options, const std::string& bytes, Progress& progress) {
    auto stats =
        read_dxf(bytes, [&](double fraction) { progress.report(fraction, 20, 90, "parsing"); });
    if (!stats) return fail(stats.error());
    progress.report(0, 90, 99, "preview");
    bool preview = write_preview(options.out_dir, drawing_svg(*stats, "DXF drawing"));

    JsonPtr out = make_object();
    set_string(out.get(), "format", "dxf");
    set_number(out.get(), "entities", static_cast<double>(stats->entities));
    JsonPtr counts = make_object();
    for (const auto& [type, count] : stats->counts)
        set_number(counts.get(), type.c_str(), static_cast<double>(count));
    set_json(out.get(), "counts", std::move(counts));
    JsonPtr bbox = make_object();
    set_json(bbox.get(), "min", numbers({tidy(stats->min[0]), tidy(stats->min[1])}));
    set_json(bbox.get(), "max", numbers({tidy(stats->max[0]), tidy(stats->max[1])}));
    set_json(out.get(), "bbox", std::move(bbox));
    set_json(out.get(), "size",
             numbers({tidy(stats->max[0] - stats->min[0]), tidy(stats->max[1] - stats->min[1])}));
    set_number(out.get(), "length", tidy(stats->length));
    if (preview) {
        set_string(out.get(), "preview", "preview.svg");
        set_bool(out.get(), "previewSampled", stats->paths_truncated);
    }
    progress.report(1, 100, 100, "done");
    emit(out.get());
    return 0;
}

// Text that is neither DXF nor ASCII STL: without this, it would be read as a binary STL of
// the wrong size, and the message would talk about triangle counts. A binary STL's count field
// (bytes 80-83) holds a zero byte below 16 million triangles.
bool looks_like_other_text(std::string_view bytes) {
    if (looks_like_stl(bytes)) return false;
    for (char c : bytes.substr(0, 512)) {
        if (c == '\0') return false;
    }
    return true;
}

}  // namespace

int inspect(const InspectOptions& options) {
    Progress progress;
    progress.start();
    auto bytes = read_input(options, progress);
    if (!bytes) return fail(bytes.error());
    if (looks_like_dxf(*bytes)) return inspect_dxf(options, *bytes, progress);
    if (looks_like_other_text(*bytes)) {
        return fail(
            make_error("unsupported_format",
                       "not a CAD file cad-inspect reads (ASCII or binary STL, ASCII DXF)"));
    }
    return inspect_stl(options, *bytes, progress);  // its errors name what an STL file lacks
}

}  // namespace rp::cad

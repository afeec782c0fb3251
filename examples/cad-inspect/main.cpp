// cad-inspect: the sample external program. Reads a CAD file, prints progress lines and one JSON
// result on stdout (docs/program.md); on bad input prints a JSON error and exits 2.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "roompush/json.h"
#include "stl_reader.h"

namespace {

constexpr int kBadInput = 2;

void emit(const cJSON* json) {
    std::cout << rp::to_json(json) << std::endl;  // flushed: the app reads progress as it comes
}

int fail(const rp::Error& error) {
    rp::JsonPtr out = rp::make_object();
    rp::JsonPtr detail = rp::make_object();
    rp::set_string(detail.get(), "code", error.code);
    rp::set_string(detail.get(), "message", error.message);
    rp::set_json(out.get(), "error", std::move(detail));
    emit(out.get());
    std::cerr << "cad-inspect: " << error.message << "\n";
    return kBadInput;
}

void progress(int percent, const char* stage) {
    rp::JsonPtr line = rp::make_object();
    rp::set_number(line.get(), "progress", percent);
    rp::set_string(line.get(), "stage", stage);
    emit(line.get());
}

rp::JsonPtr vector_json(const std::array<double, 3>& v) {
    rp::JsonPtr array = rp::make_array();
    for (double component : v) cJSON_AddItemToArray(array.get(), cJSON_CreateNumber(component));
    return array;
}

rp::JsonPtr result_json(const rp::cad::MeshStats& stats) {
    rp::JsonPtr out = rp::make_object();
    rp::set_string(out.get(), "format", stats.format);
    rp::set_string(out.get(), "name", stats.name);
    rp::set_number(out.get(), "triangles", static_cast<double>(stats.triangles));
    rp::JsonPtr bbox = rp::make_object();
    rp::set_json(bbox.get(), "min", vector_json(stats.min));
    rp::set_json(bbox.get(), "max", vector_json(stats.max));
    rp::set_json(out.get(), "bbox", std::move(bbox));
    rp::set_json(out.get(), "size", vector_json({stats.max[0] - stats.min[0], stats.max[1] - stats.min[1],
                                                 stats.max[2] - stats.min[2]}));
    rp::set_number(out.get(), "area", stats.area);
    rp::set_number(out.get(), "volume", stats.volume);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string input, out_dir;
    uint64_t max_bytes = 1ull << 30;
    CLI::App app{"cad-inspect: figures of a CAD file (STL), as JSON"};
    app.add_option("--input", input, "The file to read")->required();
    app.add_option("--out", out_dir, "Work directory for outputs");
    app.add_option("--max-bytes", max_bytes, "Largest input accepted")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : kBadInput;
    }

    struct stat info {};
    if (::stat(input.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
        return fail(rp::make_error("unreadable", "cannot read " + input));
    }
    if (static_cast<uint64_t>(info.st_size) > max_bytes) {
        return fail(rp::make_error("too_large", "the file is larger than " + std::to_string(max_bytes) + " bytes"));
    }
    progress(0, "reading");
    std::ifstream file(input, std::ios::binary);
    std::stringstream content;
    content << file.rdbuf();
    if (!file && !file.eof()) return fail(rp::make_error("unreadable", "cannot read " + input));
    const std::string bytes = content.str();

    int last_percent = 0;
    auto stats = rp::cad::read_stl(bytes, [&](double fraction) {
        int percent = 5 + static_cast<int>(fraction * 90);
        if (percent >= last_percent + 10) {
            last_percent = percent;
            progress(percent, "parsing");
        }
    });
    if (!stats) return fail(stats.error());
    progress(100, "done");
    emit(result_json(*stats).get());
    return 0;
}

// cad-inspect: the sample external program. Reads a CAD file (STL or DXF), prints progress lines
// and one JSON result on stdout (docs/program.md), writes preview.svg into --out; on bad input
// prints a JSON error and exits 2.
#include <CLI/CLI.hpp>

#include "inspect.h"

int main(int argc, char** argv) {
    rp::cad::InspectOptions options;
    CLI::App app{"cad-inspect: figures and a preview of a CAD file (STL, DXF), as JSON"};
    app.add_option("--input", options.input, "The file to read")->required();
    app.add_option("--out", options.out_dir, "Work directory: preview.svg is written there");
    app.add_option("--max-bytes", options.max_bytes, "Largest input accepted")
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    return rp::cad::inspect(options);
}

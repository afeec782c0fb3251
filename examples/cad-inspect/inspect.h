#pragma once
// The whole run of cad-inspect after option parsing: read the input with progress, recognise
// STL or DXF, print the figures as one JSON object and write preview.svg into the work dir.
// Output follows docs/program.md: progress lines, then the result or {"error":{code,message}}.

#include <cstdint>
#include <string>

namespace rp::cad {

struct InspectOptions {
    std::string input;
    std::string out_dir;  // empty: no preview is written
    uint64_t max_bytes = 1ull << 30;
};

// Exit code: 0 with a result, 2 for input that cannot be inspected.
int inspect(const InspectOptions& options);

}  // namespace rp::cad

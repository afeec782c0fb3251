// libFuzzer target: any file handed to cad-inspect's STL reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stl_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)rp::cad::read_stl(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}

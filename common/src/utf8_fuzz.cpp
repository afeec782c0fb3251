// libFuzzer target: the validator agrees with a plain decoder (utf8_reference.h), and repairing
// always gives valid UTF-8 that keeps every well-formed byte before the first ill-formed one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "roompush/utf8.h"
#include "utf8_reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    bool valid = rp::is_valid_utf8(text);
    if (valid != rp::utf8_reference::is_valid(text)) std::abort();
    std::string repaired = rp::repair_utf8(text);
    if (!rp::utf8_reference::is_valid(repaired)) std::abort();
    if (valid != (repaired == text)) std::abort();
    if (!valid) {
        std::size_t bad = rp::find_invalid_utf8(text);
        if (bad >= size || !rp::is_valid_utf8(text.substr(0, bad))) std::abort();
        if (repaired.compare(0, bad + 3, std::string(text.substr(0, bad)) + "\xEF\xBF\xBD") != 0) {
            std::abort();
        }
    }
    if (!rp::utf8_reference::is_valid(rp::utf8_prefix(repaired, size / 2))) std::abort();
    return 0;
}

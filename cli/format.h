#pragma once
// How pushctl shows things to people: local times, compact JSON cells.

#include <cstdint>
#include <string>

#include "roompush/json.h"

namespace rp::cli {

// "2026-11-25 13:04:05" in the local time zone; "-" for 0.
std::string local_time(int64_t epoch_ms);
// A JSON value as one line, cut to `width` characters with an ellipsis.
std::string json_cell(const cJSON* json, std::size_t width);
// Member or field of a response as text ("" if absent).
std::string text_field(const cJSON* object, const char* key);
int64_t number_field(const cJSON* object, const char* key);

}  // namespace rp::cli

#pragma once
// decode_request's fast path for its common case, a plain publish line, and the cJSON path that
// it must agree with: both here so that the tests and the differential fuzzer can hold one to
// the other.

#include <optional>
#include <string_view>

#include "roompush/control_codec.h"

namespace rp {

// The request that decode_request_with_cjson makes of `line`, read in one pass with no cJSON
// tree, when `line` is a plain publish: one JSON object of strict RFC 8259 tokens, with string
// keys, op, room, event and id written without escapes, a `data` of any value, no \u escape
// and no raw CR anywhere, and nothing wrong with any field. Else nullopt: "not sure", and
// cJSON decides, errors included. Never a different answer from cJSON's.
std::optional<ControlRequest> scan_publish(std::string_view line);

// decode_request without the fast path (control_codec.cpp).
Result<ControlRequest> decode_request_with_cjson(std::string_view line);

}  // namespace rp

#pragma once
// How long POST /cad may hold the answer for the job to finish: `?wait=SECONDS` or the RFC 7240
// preference `Prefer: wait=SECONDS` (the query wins). Seconds may have a fraction.

#include <chrono>
#include <optional>
#include <string>

#include "roompush/error.h"

namespace rp::app {

// nullopt: answer 202 at once. The result is capped at `cap`. A `?wait` that is not a
// non-negative number is an Error("invalid_wait"); a malformed Prefer is ignored, as
// preferences are hints (RFC 7240 section 2).
Result<std::optional<std::chrono::milliseconds>> requested_wait(const std::string& query,
                                                                const std::string& prefer,
                                                                std::chrono::milliseconds cap);

}  // namespace rp::app

#pragma once
// What pushctl's numbers and flags accept, said the way an operator reads it. CLI11's own
// checks answer "-5" with "Value -5 not in range 0.000000 to 1797693134862315…"; these say
// "--limit: must be a whole number from 1 to …, not "-5"".

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace rp::cli {

// The largest whole number a JSON number holds exactly (2^53 - 1): seqs, counts and member ids
// travel to the sidecar as JSON numbers.
inline constexpr uint64_t kMaxJsonInteger = 9007199254740991ULL;

// Decimal digits only (no sign, fraction, exponent or 0x), from `min` to `max`. The value is
// handed on without leading zeros, so that CLI11 does not read "010" as octal.
CLI::Validator whole_number(uint64_t min, uint64_t max);

// A member id from `pushctl room`: a positive whole number; the message says what it is.
CLI::Validator member_id();

// "010" -> 10 when `text` is decimal digits from min to max; nothing otherwise.
bool parse_whole_number(const std::string& text, uint64_t min, uint64_t max, uint64_t& out);

}  // namespace rp::cli

#pragma once
// The text of one member of a JSON object, exactly as it was written, so that a value can be
// passed on without a cJSON tree and a second printing (which costs a walk and allocations per
// message, and re-formats numbers: 12345678901234567890 came out as 1.2345678901234567e+19).
//
// cJSON stays the parser here. This only finds a member in text that cJSON has already accepted,
// and answers nullopt whenever it cannot be sure that it found what cJSON found, or that the text
// is plain JSON that any other parser reads the same way. The scanning is json_scan's, which
// decode_request's fast path for publish lines shares.

#include <optional>
#include <string_view>

namespace rp {

// `object`: one JSON object that parse_json() accepted. Returns the value of the member `key`,
// without the whitespace around it, when
//   - `key` is a member: the first one, as cJSON_GetObjectItemCaseSensitive picks it;
//   - no key up to it is written with a backslash escape (one could spell `key`);
//   - every token up to the end of that value is strict JSON (RFC 8259), which cJSON is not:
//     strings without raw control characters, numbers in JSON's grammar (cJSON also reads "01",
//     "1." or "-.5"), exactly true/false/null, and between tokens only space, tab, CR and LF
//     (cJSON skips any byte up to 0x20).
// Else nullopt, and the caller prints cJSON's value instead. Never reads outside `object`, even
// when cJSON did not accept it.
std::optional<std::string_view> find_member_text(std::string_view object, std::string_view key);

// Whether `text`, from outside (Redis), may be passed on as it is: exactly one JSON value,
// accepted by cJSON (the structure) and made of strict tokens as above, in valid UTF-8, with no
// whitespace around it. cJSON's acceptance alone is not enough: it takes "\x01{}", "01" or
// "\"\xff\"" too.
bool is_verbatim_json(std::string_view text);

// `text` without the JSON whitespace (space, tab, LF, CR) around it.
std::string_view trim_json_space(std::string_view text);

}  // namespace rp

#pragma once
// UTF-8, strictly as RFC 3629 has it: what a browser's WebSocket demands of every text frame
// (RFC 6455 fails the connection, close 1007, on anything else) and what JSON text must be
// (RFC 8259 8.1), and what cJSON never checks. Every message a browser gets passes through here
// once, so the all-ASCII case, the common one, is read 8 bytes at a time.

#include <cstddef>
#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp {

// Well-formed UTF-8 (Unicode's Table 3-7): no overlong forms, no surrogates (U+D800-DFFF),
// nothing above U+10FFFF, no sequence cut short (at the end of the text included).
bool is_valid_utf8(std::string_view text);

// Where the first ill-formed sequence starts, or npos when there is none.
std::size_t find_invalid_utf8(std::string_view text);

// `text` with each maximal subpart of an ill-formed sequence replaced by one U+FFFD, the
// "substitution of maximal subparts" of Unicode 3.9 and WHATWG's decoder (TextDecoder): a lead
// byte and the continuation bytes that may follow it, up to the first that may not, count as
// one. Well-formed text comes back unchanged.
std::string repair_utf8(std::string_view text);

// The longest prefix of well-formed `text` of at most `max_bytes` that does not cut a
// character in two.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// ok, or Error{"invalid_utf8", ...} naming `what` ("field \"data\"", "the body") and why it
// matters to whoever sent it.
Status check_utf8(std::string_view text, std::string_view what);

}  // namespace rp

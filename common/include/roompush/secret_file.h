#pragma once
// Files that hold a secret (the room-token key, the Redis password): read whole, the trailing
// newline an editor adds taken off, and held to the rules of what they hold.

#include <cstddef>
#include <string>

#include "roompush/error.h"

namespace rp {

struct SecretRules {
    std::size_t min_bytes = 1;
    std::size_t max_bytes = 65536;
    bool one_line = false;  // a password: a line break inside is a mistake, not part of it
    std::string hint;       // appended to "too short": how to make a good one
};

// Error("bad_secret") names the file and the rule it breaks.
Result<std::string> read_secret_file(const std::string& path, const SecretRules& rules);

}  // namespace rp

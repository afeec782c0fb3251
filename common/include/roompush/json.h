#pragma once
// Small helpers over cJSON: ownership, strict parsing and typed field access with clear errors.

#include <cjson/cJSON.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp {

struct JsonDeleter {
    void operator()(cJSON* json) const { cJSON_Delete(json); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

// Parses exactly one JSON value; trailing bytes (other than whitespace) and NUL bytes are errors.
Result<JsonPtr> parse_json(std::string_view text);

// Compact serialization.
std::string to_json(const cJSON* json);

JsonPtr make_object();
JsonPtr make_array();
// {"error":{"code":…,"message":…}}: how every HTTP endpoint of roompush reports an error.
JsonPtr error_object(const Error& error);
JsonPtr clone_json(const cJSON* json);

// Adds or replaces a member; the helpers take ownership of nothing they are not given.
void set_string(cJSON* object, const char* key, std::string_view value);
void set_number(cJSON* object, const char* key, double value);
void set_bool(cJSON* object, const char* key, bool value);
void set_json(cJSON* object, const char* key, JsonPtr value);

// Typed lookups: nullopt when the member is absent; an Error("wrong_type") when present with
// another type. `what` names the field in the message ("publish.room").
Result<std::optional<std::string>> get_string(const cJSON* object, const char* key);
Result<std::optional<int64_t>> get_integer(const cJSON* object, const char* key);

// The same, for required members: missing is Error("missing_field").
Result<std::string> require_string(const cJSON* object, const char* key);
Result<int64_t> require_integer(const cJSON* object, const char* key);

}  // namespace rp

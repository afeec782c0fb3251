#include "roompush/json.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace rp {
namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Error wrong_type(const char* key, const char* expected) {
    return make_error("wrong_type", std::string("field \"") + key + "\" must be " + expected);
}

Error missing(const char* key) {
    return make_error("missing_field", std::string("field \"") + key + "\" is required");
}

}  // namespace

Result<JsonPtr> parse_json(std::string_view text) {
    // An empty view may have no data at all: memchr must not see its null pointer.
    if (!text.empty() && std::memchr(text.data(), '\0', text.size()) != nullptr) {
        return make_error("bad_json", "input contains a NUL byte");
    }
    const char* end = nullptr;
    JsonPtr json(cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false));
    if (!json) {
        size_t offset = end ? static_cast<size_t>(end - text.data()) : 0;
        return make_error("bad_json",
                          "not valid JSON (error near byte " + std::to_string(offset) + ")");
    }
    size_t consumed = static_cast<size_t>(end - text.data());
    while (consumed < text.size() && is_json_space(text[consumed])) ++consumed;
    if (consumed != text.size()) {
        return make_error(
            "bad_json", "unexpected data after the JSON value at byte " + std::to_string(consumed));
    }
    return json;
}

std::string to_json(const cJSON* json) {
    char* printed = cJSON_PrintUnformatted(json);
    if (printed == nullptr) return "null";
    std::string out(printed);
    cJSON_free(printed);
    return out;
}

JsonPtr make_object() { return JsonPtr(cJSON_CreateObject()); }
JsonPtr error_object(const Error& error) {
    JsonPtr body = make_object();
    JsonPtr detail = make_object();
    set_string(detail.get(), "code", error.code);
    set_string(detail.get(), "message", error.message);
    set_json(body.get(), "error", std::move(detail));
    return body;
}

JsonPtr make_array() { return JsonPtr(cJSON_CreateArray()); }
JsonPtr clone_json(const cJSON* json) { return JsonPtr(cJSON_Duplicate(json, true)); }

void set_json(cJSON* object, const char* key, JsonPtr value) {
    cJSON_DeleteItemFromObjectCaseSensitive(object, key);
    cJSON_AddItemToObject(object, key, value.release());
}

void set_string(cJSON* object, const char* key, std::string_view value) {
    set_json(object, key, JsonPtr(cJSON_CreateString(std::string(value).c_str())));
}

void set_number(cJSON* object, const char* key, double value) {
    set_json(object, key, JsonPtr(cJSON_CreateNumber(value)));
}

void set_bool(cJSON* object, const char* key, bool value) {
    set_json(object, key, JsonPtr(cJSON_CreateBool(value)));
}

Result<std::optional<std::string>> get_string(const cJSON* object, const char* key) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (item == nullptr) return std::optional<std::string>();
    if (!cJSON_IsString(item)) return wrong_type(key, "a string");
    return std::optional<std::string>(item->valuestring);
}

Result<std::optional<int64_t>> get_integer(const cJSON* object, const char* key) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (item == nullptr) return std::optional<int64_t>();
    constexpr double kLimit = 9007199254740992.0;  // 2^53: beyond it a double is not exact
    if (!cJSON_IsNumber(item) || std::floor(item->valuedouble) != item->valuedouble ||
        std::fabs(item->valuedouble) > kLimit) {
        return wrong_type(key, "an integer");
    }
    return std::optional<int64_t>(static_cast<int64_t>(item->valuedouble));
}

Result<std::string> require_string(const cJSON* object, const char* key) {
    auto value = get_string(object, key);
    if (!value) return value.error();
    if (!value->has_value()) return missing(key);
    return std::move(**value);
}

Result<int64_t> require_integer(const cJSON* object, const char* key) {
    auto value = get_integer(object, key);
    if (!value) return value.error();
    if (!value->has_value()) return missing(key);
    return **value;
}

}  // namespace rp

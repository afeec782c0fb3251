#include "format.h"

#include <ctime>

namespace rp::cli {

std::string local_time(int64_t epoch_ms) {
    if (epoch_ms <= 0) return "-";
    std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm local{};
    localtime_r(&seconds, &local);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &local);
    return buffer;
}

std::string json_cell(const cJSON* json, std::size_t width) {
    std::string text = json ? to_json(json) : "null";
    if (text.size() > width) text = text.substr(0, width - 3) + "...";
    return text;
}

std::string text_field(const cJSON* object, const char* key) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (cJSON_IsString(item)) return item->valuestring;
    if (cJSON_IsNumber(item)) return std::to_string(static_cast<int64_t>(item->valuedouble));
    return "";
}

int64_t number_field(const cJSON* object, const char* key) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? static_cast<int64_t>(item->valuedouble) : 0;
}

}  // namespace rp::cli

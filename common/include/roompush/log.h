#pragma once
// One line per event, key=value, written with a single write(2) so threads never interleave:
//   ts=2026-11-25T12:00:00.123Z level=info prog=roompush-sidecar event=publish room=A seq=3

#include <cstdint>
#include <string>
#include <string_view>

namespace rp {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_program(std::string_view program);
void set_log_level(LogLevel minimum);
// "debug" | "info" | "warn" | "error"; false for anything else.
bool parse_log_level(std::string_view name, LogLevel& out);

class LogLine {
public:
    LogLine(LogLevel level, std::string_view event);
    ~LogLine();
    LogLine(const LogLine&) = delete;
    LogLine& operator=(const LogLine&) = delete;

    LogLine& kv(std::string_view key, std::string_view value);
    LogLine& kv(std::string_view key, const char* value) {
        return kv(key, std::string_view(value));
    }
    LogLine& kv(std::string_view key, const std::string& value) {
        return kv(key, std::string_view(value));
    }
    LogLine& kv(std::string_view key, int64_t value);
    LogLine& kv(std::string_view key, uint64_t value);
    LogLine& kv(std::string_view key, int value) { return kv(key, static_cast<int64_t>(value)); }
    LogLine& kv(std::string_view key, unsigned value) {
        return kv(key, static_cast<uint64_t>(value));
    }
    LogLine& kv(std::string_view key, long long value) {
        return kv(key, static_cast<int64_t>(value));
    }
    LogLine& kv(std::string_view key, unsigned long long value) {
        return kv(key, static_cast<uint64_t>(value));
    }
    LogLine& kv(std::string_view key, double value);
    LogLine& kv(std::string_view key, bool value) { return kv(key, value ? "true" : "false"); }

private:
    bool enabled_;
    std::string line_;
};

inline LogLine log_debug(std::string_view event) { return LogLine(LogLevel::debug, event); }
inline LogLine log_info(std::string_view event) { return LogLine(LogLevel::info, event); }
inline LogLine log_warn(std::string_view event) { return LogLine(LogLevel::warn, event); }
inline LogLine log_error(std::string_view event) { return LogLine(LogLevel::error, event); }

}  // namespace rp

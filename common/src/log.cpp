#include "roompush/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace rp {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::info)};
std::mutex g_program_mutex;
std::string g_program = "roompush";

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "info";
}

// Under systemd, stderr is a stream to journald ($JOURNAL_STREAM names it as DEVICE:INODE).
// There each line starts with its syslog priority, <3> for an error, which journald takes off
// and keeps as the entry's priority: `journalctl -p err` then shows exactly the error lines.
bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    unsigned long long device = 0, inode = 0;
    if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
    struct stat info {};
    if (::fstat(STDERR_FILENO, &info) != 0) return false;
    return info.st_dev == device && info.st_ino == inode;
}

const char* journal_priority(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "<7>";
        case LogLevel::info:
            return "<6>";
        case LogLevel::warn:
            return "<4>";
        case LogLevel::error:
            return "<3>";
    }
    return "<6>";
}

std::string timestamp() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(ms % 1000));
    return buffer;
}

bool needs_quotes(std::string_view value) {
    if (value.empty()) return true;
    for (unsigned char c : value) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
    }
    return false;
}

// Values are quoted when they hold spaces or quotes; control bytes are escaped so that one event
// stays one line whatever a peer sent.
void append_value(std::string& out, std::string_view value) {
    if (!needs_quotes(value)) {
        out.append(value);
        return;
    }
    out.push_back('"');
    for (unsigned char c : value) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < ' ' || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out.append(escaped);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

}  // namespace

void set_log_program(std::string_view program) {
    std::lock_guard lock(g_program_mutex);
    g_program = std::string(program);
}

void set_log_level(LogLevel minimum) { g_min_level = static_cast<int>(minimum); }

bool parse_log_level(std::string_view name, LogLevel& out) {
    for (LogLevel level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
        if (name == level_name(level)) {
            out = level;
            return true;
        }
    }
    return false;
}

LogLine::LogLine(LogLevel level, std::string_view event)
    : enabled_(static_cast<int>(level) >= g_min_level.load()) {
    if (!enabled_) return;
    static const bool to_journal = stderr_is_journal();
    line_.reserve(160);
    if (to_journal) line_ += journal_priority(level);
    line_ += "ts=" + timestamp() + " level=" + level_name(level) + " prog=";
    {
        std::lock_guard lock(g_program_mutex);
        line_ += g_program;
    }
    line_ += " event=";
    append_value(line_, event);
}

LogLine::~LogLine() {
    if (!enabled_) return;
    line_.push_back('\n');
    ssize_t ignored = ::write(STDERR_FILENO, line_.data(), line_.size());
    (void)ignored;
}

LogLine& LogLine::kv(std::string_view key, std::string_view value) {
    if (!enabled_) return *this;
    line_.push_back(' ');
    line_.append(key);
    line_.push_back('=');
    append_value(line_, value);
    return *this;
}

LogLine& LogLine::kv(std::string_view key, int64_t value) { return kv(key, std::to_string(value)); }
LogLine& LogLine::kv(std::string_view key, uint64_t value) {
    return kv(key, std::to_string(value));
}

LogLine& LogLine::kv(std::string_view key, double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return kv(key, std::string_view(buffer));
}

}  // namespace rp

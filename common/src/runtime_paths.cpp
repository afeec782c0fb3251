#include "roompush/runtime_paths.h"

#include <cstdlib>

namespace rp {

namespace {

const char* run_dir_from_environment() {
    const char* from_env = std::getenv("ROOMPUSH_RUN_DIR");
    return from_env != nullptr && *from_env != '\0' ? from_env : nullptr;
}

}  // namespace

std::string default_run_dir() {
    const char* from_env = run_dir_from_environment();
    return from_env != nullptr ? from_env : "/run/roompush";
}

std::string default_fcgi_socket() {
    const char* from_env = run_dir_from_environment();
    return from_env != nullptr ? std::string(from_env) + "/fcgi.sock"
                               : "/run/roompush-fcgi/fcgi.sock";
}

std::optional<mode_t> parse_file_mode(std::string_view text) {
    if (text.empty() || text.size() > 4) return std::nullopt;
    mode_t mode = 0;
    for (char c : text) {
        if (c < '0' || c > '7') return std::nullopt;
        mode = mode * 8 + static_cast<mode_t>(c - '0');
    }
    if (mode > 0777) return std::nullopt;
    return mode;
}

}  // namespace rp

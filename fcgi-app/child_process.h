#pragma once
// Runs the external program: its own process group and work dir, a clean environment, resource
// limits, no inherited descriptors, a timeout (SIGTERM, then SIGKILL), and caps on what it may
// write. stdout arrives line by line; stderr is kept up to its cap for the error report.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rp::app {

// Resource limits of 0 mean unlimited.
struct ChildLimits {
    unsigned timeout_ms = 300000;
    unsigned kill_grace_ms = 5000;
    std::size_t max_stdout_bytes = 1 << 20;
    std::size_t max_stderr_bytes = 64 << 10;
    uint64_t max_cpu_seconds = 600;
    uint64_t max_address_space = 4ull << 30;
    uint64_t max_file_size = 1ull << 30;
    uint64_t max_open_files = 256;
};

struct ChildSpec {
    std::vector<std::string> argv;  // argv[0] is an absolute path
    std::string workdir;
    std::vector<std::string> env;  // "KEY=value"
    ChildLimits limits;
};

struct ChildOutcome {
    enum class Kind {
        exited,
        signaled,
        timeout,
        output_too_large,
        spawn_failed,
        interrupted,
        cancelled
    };
    Kind kind = Kind::exited;
    int exit_code = 0;
    int signal = 0;
    std::string error;   // for spawn_failed: what went wrong
    std::string stderr;  // up to max_stderr_bytes
    bool stderr_truncated = false;
};

const char* outcome_reason(ChildOutcome::Kind kind);

// Blocks until the program and its whole process group are gone. `stop` (may be null) ends the
// program early as `interrupted`, for a shutting-down app; `cancel` (may be null) as `cancelled`
// (DELETE /jobs/ID). Either: SIGTERM to the group, SIGKILL after the kill grace.
ChildOutcome run_child(const ChildSpec& spec,
                       const std::function<void(std::string_view line)>& on_stdout_line,
                       const std::atomic<bool>* stop, const std::atomic<bool>* cancel = nullptr);

}  // namespace rp::app

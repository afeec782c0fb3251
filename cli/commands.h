#pragma once
// pushctl's subcommands: each takes its options and returns the process exit code.

#include <string>

namespace rp::cli {

// Exit codes, documented in --help and docs/pushctl.md.
enum ExitCode { kOk = 0, kSidecarError = 1, kUsage = 2, kCannotConnect = 3 };

struct GlobalOptions {
    std::string socket;
    bool json = false;
    int timeout_ms = 5000;
};

struct PublishOptions {
    std::string room;
    std::string event = "message";
    std::string data;  // JSON text, @FILE, or "-"/empty for stdin
    std::string id;
};

int publish_command(const GlobalOptions& global, const PublishOptions& options);
int rooms_command(const GlobalOptions& global);

}  // namespace rp::cli

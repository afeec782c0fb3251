#pragma once
// pushctl's subcommands: each takes its options and returns the process exit code.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"

namespace rp::cli {

// Exit codes, documented in --help and docs/pushctl.md.
enum ExitCode { kOk = 0, kSidecarError = 1, kUsage = 2, kCannotConnect = 3 };

struct GlobalOptions {
    std::string socket;
    bool json = false;
    int timeout_ms = kControlCallTimeoutMs;    // above the sidecar's own deadline
    std::string app_url = "http://127.0.0.1";  // the site, for `jobs` (the app's routes)
};

struct PublishOptions {
    std::string room;
    std::string event = "message";
    std::string data;  // JSON text, @FILE, or "-"/empty for stdin
    std::string id;
    bool lines = false;  // bulk: ROOM<TAB>JSON per line on stdin
};

struct HistoryOptions {
    std::string room;
    std::optional<uint64_t> since;
    std::optional<uint64_t> limit;
};

struct TailOptions {
    std::vector<std::string> rooms;
    std::optional<uint64_t> since;
    std::optional<uint64_t> count;  // stop after this many messages
};

int publish_command(const GlobalOptions& global, const PublishOptions& options);
int publish_lines_command(const GlobalOptions& global, const PublishOptions& options);
// cluster: every node's members (a sidecar with --broker redis://...).
int rooms_command(const GlobalOptions& global, bool cluster);
int room_command(const GlobalOptions& global, const std::string& room, bool cluster);
int history_command(const GlobalOptions& global, const HistoryOptions& options);
int stats_command(const GlobalOptions& global, bool prometheus);
int kick_command(const GlobalOptions& global, const std::string& room, uint64_t member);
int tail_command(const GlobalOptions& global, const TailOptions& options);
// Has the sidecar read its configuration again (what `systemctl reload` runs).
int reload_command(const GlobalOptions& global);

struct TokenOptions {
    std::string room;  // or a prefix grant "team-7:*"
    std::string ttl = "1h";
    std::string secret_file = "/etc/roompush/auth.secret";
    std::string user;       // the token's "sub": client messages name their sender with it
    bool publish = false;   // the "publish" capability: the holder may send to the room
    bool presence = false;  // the "presence" capability: seen by the room, and sees it
    std::string info;       // presence's "info": a JSON object
};
int token_command(const GlobalOptions& global, const TokenOptions& options);

struct JobsOptions {
    std::string action;  // list, show, cancel, retry
    std::string job;
    std::string room;    // list: only this room's
    std::string status;  // list: only jobs with this status
    std::optional<uint64_t> limit;
};
Status check_jobs_options(const JobsOptions& options);
int jobs_command(const GlobalOptions& global, const JobsOptions& options);

}  // namespace rp::cli

// pushctl: inject and inspect room messages over the sidecar's control socket.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.h"
#include "error_report.h"
#include "option_checks.h"
#include "roompush/program_options.h"
#include "roompush/runtime_paths.h"

#ifndef ROOMPUSH_VERSION
#define ROOMPUSH_VERSION "0"
#endif

namespace {

using rp::cli::PublishOptions;
using rp::cli::TokenOptions;

const char* kFooter =
    "Exit codes: 0 success, 1 the sidecar (or, for `jobs`, the app) answered with an error, "
    "2 usage error, 3 cannot connect. With --json an error is one line on stderr, "
    "{\"error\":{\"code\":...,\"message\":...}}.\n"
    "Control socket: --socket, else $ROOMPUSH_CONTROL, else `socket` in the --config file "
    "(default /etc/roompush/pushctl.conf), else $ROOMPUSH_RUN_DIR/control.sock, else "
    "/run/roompush/control.sock.";

// The socket's precedence is --socket, then $ROOMPUSH_CONTROL, then the config file. CLI11
// ranks a config file above the environment, so the variable is handed to it as the flag
// whenever no --socket is on the command line.
std::vector<std::string> arguments_with_socket_from_env(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const char* from_env = std::getenv("ROOMPUSH_CONTROL");
    bool has_flag = false;
    for (const std::string& arg : args)
        has_flag = has_flag || arg == "--socket" || arg.rfind("--socket=", 0) == 0;
    if (from_env != nullptr && *from_env != '\0' && !has_flag)
        args.insert(args.begin(), std::string("--socket=") + from_env);
    std::reverse(args.begin(), args.end());  // CLI11 takes them in reverse
    return args;
}

CLI::App* subcommand(CLI::App& app, const char* name, const char* help, const char* example) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->footer(std::string("Example:\n  ") + example);
    sub->fallthrough();  // global options (--json, --socket) may also come after the name
    return sub;
}

// Every subcommand's options, and which subcommand was given.
struct CommandLine {
    rp::cli::GlobalOptions global;
    rp::cli::PublishOptions publish;
    rp::cli::HistoryOptions history;
    rp::cli::TailOptions tail;
    rp::cli::TokenOptions token;
    std::string room;
    uint64_t member = 0;
    bool prometheus = false;
    bool cluster = false;
    CLI::App* publish_cmd = nullptr;
    CLI::App* room_cmd = nullptr;
    CLI::App* history_cmd = nullptr;
    CLI::App* tail_cmd = nullptr;
    CLI::App* stats_cmd = nullptr;
    CLI::App* kick_cmd = nullptr;
    CLI::App* reload_cmd = nullptr;
    CLI::App* token_cmd = nullptr;
    rp::cli::JobsOptions jobs;
    CLI::App* jobs_cmd = nullptr;
};

void add_global_options(CLI::App& app, CommandLine& line) {
    using namespace rp::cli;
    line.global.socket = rp::default_control_socket();
    app.footer(kFooter);
    app.require_subcommand(1);
    app.set_version_flag("--version", ROOMPUSH_VERSION);
    app.set_config("--config", "/etc/roompush/pushctl.conf",
                   "Read options from this TOML/INI file");
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.add_option("--socket", line.global.socket, "The sidecar's control socket")
        ->capture_default_str();
    app.add_flag("--json", line.global.json,
                 "Print JSON for scripts instead of tables (errors too)")
        ->check(rp::boolean_validator());
    app.add_option("--app-url", line.global.app_url,
                   "The site, for `jobs`: http://HOST[:PORT] (the app's operator routes)")
        ->capture_default_str();
    app.add_option("--timeout", line.global.timeout_ms,
                   "Milliseconds to wait for the sidecar (or the site)")
        ->capture_default_str()
        ->transform(whole_number(1, 3600000));
}

void add_publish(CLI::App& app, CommandLine& line) {
    PublishOptions& publish = line.publish;
    line.publish_cmd =
        subcommand(app, "publish", "Publish a message to a room (or many with --lines)",
                   "pushctl publish drawing-7 --event note --data '{\"text\":\"hi\"}'\n"
                   "  printf 'a\\t{\"n\":1}\\nb\\t{\"n\":2}\\n' | pushctl publish --lines");
    line.publish_cmd->add_option("room", publish.room, "Room id");
    line.publish_cmd->add_option("--event", publish.event, "Event name")->capture_default_str();
    line.publish_cmd->add_option("--data", publish.data,
                                 "JSON data, @FILE, or - for stdin (default: stdin)");
    line.publish_cmd->add_option("--id", publish.id,
                                 "Idempotency key: a repeat is acked, not re-sent");
    line.publish_cmd->add_flag(
        "--lines", publish.lines,
        "Bulk: read ROOM<TAB>JSON lines from stdin, pipelined; prints a summary");
}

void add_room_views(CLI::App& app, CommandLine& line) {
    using rp::cli::whole_number;
    CLI::App* rooms_cmd =
        subcommand(app, "rooms", "List rooms: members, head seq, retained messages",
                   "pushctl rooms --json\n  pushctl rooms --cluster");
    rooms_cmd->add_flag("--cluster", line.cluster,
                        "Every node's members (sidecars on a Redis broker)");
    line.room_cmd =
        subcommand(app, "room", "Show one room and its members", "pushctl room drawing-7");
    line.room_cmd->add_option("room", line.room, "Room id")->required();
    line.room_cmd->add_flag("--cluster", line.cluster,
                            "Members on every node (sidecars on a Redis broker)");
    line.history_cmd = subcommand(app, "history", "Show a room's retained messages",
                                  "pushctl history drawing-7 --since 10 --limit 5");
    line.history_cmd->add_option("room", line.history.room, "Room id")->required();
    line.history_cmd->add_option("--since", line.history.since, "Only messages with a greater seq")
        ->transform(whole_number(0, rp::cli::kMaxJsonInteger));
    line.history_cmd->add_option("--limit", line.history.limit, "At most this many messages")
        ->transform(whole_number(1, rp::cli::kMaxJsonInteger));
    line.tail_cmd = subcommand(app, "tail", "Follow rooms live (Ctrl-C stops), NDJSON with --json",
                               "pushctl tail drawing-7 drawing-8 --since 0 --count 3");
    line.tail_cmd->add_option("rooms", line.tail.rooms, "Room ids")->required();
    line.tail_cmd
        ->add_option("--since", line.tail.since, "First replay retained messages after this seq")
        ->transform(whole_number(0, rp::cli::kMaxJsonInteger));
    line.tail_cmd->add_option("--count", line.tail.count, "Exit after this many messages")
        ->transform(whole_number(1, rp::cli::kMaxJsonInteger));
}

void add_operations(CLI::App& app, CommandLine& line) {
    line.stats_cmd = subcommand(app, "stats", "Show the sidecar's counters and gauges",
                                "pushctl stats --prometheus");
    line.stats_cmd->add_flag("--prometheus", line.prometheus,
                             "Print Prometheus text, as /metrics does");
    line.kick_cmd = subcommand(app, "kick", "Close one member's connection (see `room`)",
                               "pushctl kick drawing-7 12");
    line.kick_cmd->add_option("room", line.room, "Room id")->required();
    line.kick_cmd->add_option("member", line.member, "Member id from `pushctl room`")
        ->required()
        ->transform(rp::cli::member_id());
    line.reload_cmd =
        subcommand(app, "reload",
                   "Have the sidecar read its token secrets, allowed origins and log level again "
                   "(what systemctl reload runs)",
                   "pushctl reload");
}

void add_token(CLI::App& app, CommandLine& line) {
    TokenOptions& token = line.token;
    CLI::App* cmd =
        subcommand(app, "token", "Mint a room token (needs the sidecar's secret file)",
                   "pushctl token drawing-7 --ttl 1h --secret-file /etc/roompush/auth.secret");
    line.token_cmd = cmd;
    cmd->add_option("room", token.room, "Room id, or a prefix grant such as team-7:*")->required();
    cmd->add_option("--ttl", token.ttl, "Lifetime: 90s, 15m, 1h, 7d")->capture_default_str();
    cmd->add_option("--user", token.user, "Who holds it (the token's sub; at most 128 bytes)");
    cmd->add_flag("--publish", token.publish,
                  "Let the holder send messages to the room (docs/websocket.md publish)");
    cmd->add_flag("--presence", token.presence,
                  "Show the holder to the room's other members, and them to it");
    cmd->add_option("--info", token.info,
                    "What presence tells about the holder: a JSON object, at most 512 bytes");
    cmd->add_option("--secret-file", token.secret_file, "The secret the sidecar checks tokens with")
        ->capture_default_str();
}

void add_jobs(CLI::App& app, CommandLine& line) {
    rp::cli::JobsOptions& jobs = line.jobs;
    line.jobs_cmd = subcommand(app, "jobs",
                               "List, show, cancel or retry the app's jobs (through the site, "
                               "--app-url)",
                               "pushctl jobs list --room drawing-7 --status failed\n"
                               "  pushctl jobs retry 8a4df9a44510dc95bd8157329d000a83");
    line.jobs_cmd->require_subcommand(1);
    CLI::App* list = line.jobs_cmd->add_subcommand("list", "Jobs, newest first");
    list->fallthrough();
    list->add_option("--room", jobs.room, "Only this room's");
    list->add_option("--status", jobs.status, "Only queued, running, done, failed or cancelled");
    list->add_option("--limit", jobs.limit, "At most this many (1-1000, default 100)")
        ->transform(rp::cli::whole_number(1, 1000));
    for (auto [name, help] : {std::pair{"show", "One job as GET /jobs/ID serves it"},
                              std::pair{"cancel", "Cancel a queued or running job"},
                              std::pair{"retry", "Run a failed or cancelled job again"}}) {
        CLI::App* action = line.jobs_cmd->add_subcommand(name, help);
        action->fallthrough();
        action->add_option("job", jobs.job, "Job id")->required();
    }
}

int run(CommandLine& line) {
    using namespace rp::cli;
    const GlobalOptions& global = line.global;
    if (line.publish_cmd->parsed()) {
        return line.publish.lines ? publish_lines_command(global, line.publish)
                                  : publish_command(global, line.publish);
    }
    if (line.room_cmd->parsed()) return room_command(global, line.room, line.cluster);
    if (line.history_cmd->parsed()) return history_command(global, line.history);
    if (line.tail_cmd->parsed()) return tail_command(global, line.tail);
    if (line.stats_cmd->parsed()) return stats_command(global, line.prometheus);
    if (line.kick_cmd->parsed()) return kick_command(global, line.room, line.member);
    if (line.token_cmd->parsed()) return token_command(global, line.token);
    if (line.reload_cmd->parsed()) return reload_command(global);
    if (line.jobs_cmd->parsed()) {
        line.jobs.action = line.jobs_cmd->get_subcommands().front()->get_name();
        if (auto checked = check_jobs_options(line.jobs); !checked) {
            return report(global, checked.error(), kUsage);
        }
        return jobs_command(global, line.jobs);
    }
    return rooms_command(global, line.cluster);
}

}  // namespace

int main(int argc, char** argv) {
    CommandLine line;
    CLI::App app{"pushctl: inject and inspect roompush room messages", "pushctl"};
    add_global_options(app, line);
    add_publish(app, line);
    add_room_views(app, line);
    add_operations(app, line);
    add_token(app, line);
    add_jobs(app, line);
    try {
        std::vector<std::string> args = arguments_with_socket_from_env(argc, argv);
        app.parse(args);
        if (line.publish_cmd->parsed() && line.publish.lines != line.publish.room.empty()) {
            throw CLI::ValidationError("publish", "give a ROOM, or --lines without one");
        }
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return rp::cli::report_usage(rp::cli::json_requested(app, {argv + 1, argv + argc}), app, e);
    }
    return run(line);
}

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

const char* kFooter =
    "Exit codes: 0 success, 1 the sidecar answered with an error, 2 usage error, "
    "3 cannot connect. With --json an error is one line on stderr, "
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

}  // namespace

int main(int argc, char** argv) {
    using namespace rp::cli;
    GlobalOptions global;
    global.socket = rp::default_control_socket();
    PublishOptions publish;
    HistoryOptions history;
    TailOptions tail;
    std::string room;
    uint64_t member = 0;
    bool prometheus = false;

    CLI::App app{"pushctl: inject and inspect roompush room messages", "pushctl"};
    app.footer(kFooter);
    app.require_subcommand(1);
    app.set_version_flag("--version", ROOMPUSH_VERSION);
    app.set_config("--config", "/etc/roompush/pushctl.conf",
                   "Read options from this TOML/INI file");
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.add_option("--socket", global.socket, "The sidecar's control socket")
        ->capture_default_str();
    app.add_flag("--json", global.json, "Print JSON for scripts instead of tables (errors too)")
        ->check(rp::boolean_validator());
    app.add_option("--timeout", global.timeout_ms, "Milliseconds to wait for the sidecar")
        ->capture_default_str()
        ->transform(whole_number(1, 3600000));

    CLI::App* publish_cmd =
        subcommand(app, "publish", "Publish a message to a room (or many with --lines)",
                   "pushctl publish drawing-7 --event note --data '{\"text\":\"hi\"}'\n"
                   "  printf 'a\\t{\"n\":1}\\nb\\t{\"n\":2}\\n' | pushctl publish --lines");
    publish_cmd->add_option("room", publish.room, "Room id");
    publish_cmd->add_option("--event", publish.event, "Event name")->capture_default_str();
    publish_cmd->add_option("--data", publish.data,
                            "JSON data, @FILE, or - for stdin (default: stdin)");
    publish_cmd->add_option("--id", publish.id, "Idempotency key: a repeat is acked, not re-sent");
    publish_cmd->add_flag("--lines", publish.lines,
                          "Bulk: read ROOM<TAB>JSON lines from stdin, pipelined; prints a summary");

    bool cluster = false;
    CLI::App* rooms_cmd =
        subcommand(app, "rooms", "List rooms: members, head seq, retained messages",
                   "pushctl rooms --json\n  pushctl rooms --cluster");
    rooms_cmd->add_flag("--cluster", cluster, "Every node's members (sidecars on a Redis broker)");

    CLI::App* room_cmd =
        subcommand(app, "room", "Show one room and its members", "pushctl room drawing-7");
    room_cmd->add_option("room", room, "Room id")->required();
    room_cmd->add_flag("--cluster", cluster, "Members on every node (sidecars on a Redis broker)");

    CLI::App* history_cmd = subcommand(app, "history", "Show a room's retained messages",
                                       "pushctl history drawing-7 --since 10 --limit 5");
    history_cmd->add_option("room", history.room, "Room id")->required();
    history_cmd->add_option("--since", history.since, "Only messages with a greater seq")
        ->transform(whole_number(0, kMaxJsonInteger));
    history_cmd->add_option("--limit", history.limit, "At most this many messages")
        ->transform(whole_number(1, kMaxJsonInteger));

    CLI::App* tail_cmd =
        subcommand(app, "tail", "Follow rooms live (Ctrl-C stops), NDJSON with --json",
                   "pushctl tail drawing-7 drawing-8 --since 0 --count 3");
    tail_cmd->add_option("rooms", tail.rooms, "Room ids")->required();
    tail_cmd->add_option("--since", tail.since, "First replay retained messages after this seq")
        ->transform(whole_number(0, kMaxJsonInteger));
    tail_cmd->add_option("--count", tail.count, "Exit after this many messages")
        ->transform(whole_number(1, kMaxJsonInteger));

    CLI::App* stats_cmd = subcommand(app, "stats", "Show the sidecar's counters and gauges",
                                     "pushctl stats --prometheus");
    stats_cmd->add_flag("--prometheus", prometheus, "Print Prometheus text, as /metrics does");

    CLI::App* kick_cmd = subcommand(app, "kick", "Close one member's connection (see `room`)",
                                    "pushctl kick drawing-7 12");
    kick_cmd->add_option("room", room, "Room id")->required();
    kick_cmd->add_option("member", member, "Member id from `pushctl room`")
        ->required()
        ->transform(member_id());

    CLI::App* reload_cmd =
        subcommand(app, "reload",
                   "Have the sidecar read its token secrets, allowed origins and log level again "
                   "(what systemctl reload runs)",
                   "pushctl reload");

    TokenOptions token;
    CLI::App* token_cmd =
        subcommand(app, "token", "Mint a room token (needs the sidecar's secret file)",
                   "pushctl token drawing-7 --ttl 1h --secret-file /etc/roompush/auth.secret");
    token_cmd->add_option("room", token.room, "Room id, or a prefix grant such as team-7:*")
        ->required();
    token_cmd->add_option("--ttl", token.ttl, "Lifetime: 90s, 15m, 1h, 7d")->capture_default_str();
    token_cmd->add_option("--user", token.user,
                          "Who holds it (the token's sub; at most 128 bytes)");
    token_cmd->add_flag("--publish", token.publish,
                        "Let the holder send messages to the room (docs/websocket.md publish)");
    token_cmd->add_flag("--presence", token.presence,
                        "Show the holder to the room's other members, and them to it");
    token_cmd->add_option("--info", token.info,
                          "What presence tells about the holder: a JSON object, at most 512 bytes");
    token_cmd
        ->add_option("--secret-file", token.secret_file,
                     "The secret the sidecar checks tokens with")
        ->capture_default_str();

    try {
        std::vector<std::string> args = arguments_with_socket_from_env(argc, argv);
        app.parse(args);
        if (publish_cmd->parsed() && publish.lines != publish.room.empty()) {
            throw CLI::ValidationError("publish", "give a ROOM, or --lines without one");
        }
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return report_usage(json_requested(app, {argv + 1, argv + argc}), app, e);
    }
    if (publish_cmd->parsed()) {
        return publish.lines ? publish_lines_command(global, publish)
                             : publish_command(global, publish);
    }
    if (room_cmd->parsed()) return room_command(global, room, cluster);
    if (history_cmd->parsed()) return history_command(global, history);
    if (tail_cmd->parsed()) return tail_command(global, tail);
    if (stats_cmd->parsed()) return stats_command(global, prometheus);
    if (kick_cmd->parsed()) return kick_command(global, room, member);
    if (token_cmd->parsed()) return token_command(global, token);
    if (reload_cmd->parsed()) return reload_command(global);
    return rooms_command(global, cluster);
}

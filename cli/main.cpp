// pushctl: inject and inspect room messages over the sidecar's control socket.
#include <CLI/CLI.hpp>

#include <cstdlib>

#include "commands.h"
#include "roompush/runtime_paths.h"

namespace {

const char* kFooter =
    "Exit codes: 0 success, 1 the sidecar answered with an error, 2 usage error, "
    "3 cannot connect.\n"
    "The socket is --socket, else $ROOMPUSH_CONTROL, else $ROOMPUSH_RUN_DIR/control.sock, "
    "else /run/roompush/control.sock.";

std::string default_socket() {
    const char* from_env = std::getenv("ROOMPUSH_CONTROL");
    if (from_env != nullptr && *from_env != '\0') return from_env;
    return rp::default_control_socket();
}

}  // namespace

int main(int argc, char** argv) {
    rp::cli::GlobalOptions global;
    global.socket = default_socket();
    rp::cli::PublishOptions publish;

    CLI::App app{"pushctl: inject and inspect roompush room messages"};
    app.footer(kFooter);
    app.require_subcommand(1);
    app.add_option("--socket", global.socket, "The sidecar's control socket")->capture_default_str();
    app.add_flag("--json", global.json, "Print JSON for scripts instead of tables");
    app.add_option("--timeout", global.timeout_ms, "Milliseconds to wait for the sidecar")
        ->capture_default_str()->check(CLI::Range(1, 3600000));

    CLI::App* publish_cmd = app.add_subcommand(
        "publish", "Publish a message to a room\n"
                   "  example: pushctl publish drawing-7 --event note --data '{\"text\":\"hi\"}'");
    publish_cmd->add_option("room", publish.room, "Room id")->required();
    publish_cmd->add_option("--event", publish.event, "Event name")->capture_default_str();
    publish_cmd->add_option("--data", publish.data, "JSON data, @FILE, or - for stdin (default: stdin)");
    publish_cmd->add_option("--id", publish.id, "Idempotency key: a repeat is acked, not re-sent");

    CLI::App* rooms_cmd = app.add_subcommand(
        "rooms", "List rooms with members, head seq and retained messages\n"
                 "  example: pushctl rooms --json");
    // Global options (--json, --socket) may also come after the subcommand.
    publish_cmd->fallthrough();
    rooms_cmd->fallthrough();

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return rp::cli::kUsage;
    }
    if (publish_cmd->parsed()) return rp::cli::publish_command(global, publish);
    return rp::cli::rooms_command(global);
}

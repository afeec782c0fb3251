// roompush-sidecar: the WebSocket push server that owns the rooms.
#include <CLI/CLI.hpp>

#include "roompush/log.h"
#include "roompush/runtime_paths.h"
#include "sidecar_app.h"

int main(int argc, char** argv) {
    rp::sidecar::SidecarConfig config;
    config.ws_socket = rp::default_ws_socket();
    config.control_socket = rp::default_control_socket();
    std::string socket_mode = "0660";
    std::string log_level = "info";

    CLI::App app{"roompush-sidecar: pushes room messages to WebSocket clients"};
    app.add_option("--ws-socket", config.ws_socket, "Unix socket nginx proxies WebSockets to")
        ->capture_default_str();
    app.add_option("--control-socket", config.control_socket,
                   "Unix socket for the control protocol (the app, pushctl)")
        ->capture_default_str();
    app.add_option("--socket-mode", socket_mode, "File mode of both sockets (octal)")
        ->capture_default_str();
    app.add_option("--max-queue", config.max_queue_bytes,
                   "Bytes queued per client before it is dropped as a slow consumer (1013)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1024}, size_t{1} << 34));
    app.add_option("--max-frame", config.max_client_frame, "Largest client frame in bytes (1009)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{64}, size_t{1} << 20));
    app.add_option("--max-rooms", config.max_rooms_per_connection, "Rooms per connection")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{100000}));
    app.add_option("--max-line", config.max_control_line, "Longest control request line in bytes")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1024}, size_t{1} << 30));
    app.add_option("--ping-interval", config.ping_interval_s, "Seconds between pings")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3600u));
    app.add_option("--ping-timeout", config.ping_timeout_s,
                   "Seconds a peer may stay silent after a ping before it is closed")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3600u));
    app.add_option("--history", config.history.max_messages, "Messages retained per room for resume")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1000000}));
    app.add_option("--history-bytes", config.history.max_bytes, "Bytes retained per room")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 34));
    unsigned history_ttl_s = 600;
    app.add_option("--history-ttl", history_ttl_s, "Seconds a retained message is kept")
        ->capture_default_str()
        ->check(CLI::Range(1u, 30u * 86400u));
    app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
    app.add_flag("--lws-debug", config.lws_debug,
                 "Also log libwebsockets' notices (needs --log-level debug)");
    CLI11_PARSE(app, argc, argv);

    rp::set_log_program("roompush-sidecar");
    rp::LogLevel level;
    if (!rp::parse_log_level(log_level, level)) {
        std::fprintf(stderr, "--log-level: '%s' is not one of debug, info, warn, error\n",
                     log_level.c_str());
        return 2;
    }
    rp::set_log_level(level);
    auto mode = rp::parse_file_mode(socket_mode);
    if (!mode) {
        std::fprintf(stderr, "--socket-mode: '%s' is not an octal file mode such as 0660\n",
                     socket_mode.c_str());
        return 2;
    }
    config.socket_mode = *mode;
    config.history.ttl_ms = int64_t{history_ttl_s} * 1000;
    return rp::sidecar::run(config);
}

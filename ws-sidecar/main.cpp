// roompush-sidecar: the WebSocket push server that owns the rooms.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "roompush/log.h"
#include "roompush/program_options.h"
#include "roompush/room_token.h"
#include "roompush/runtime_paths.h"
#include "roompush/unix_socket.h"
#include "sidecar_app.h"

#ifndef ROOMPUSH_VERSION
#define ROOMPUSH_VERSION "0"
#endif

namespace {

// Every option, its default and help: the one table behind --help, --config, --print-config
// and etc/roompush-sidecar.conf.
struct BrokerOptions {
    std::string url = "memory";
    std::string password_file;
};

void add_broker_options(CLI::App& app, rp::sidecar::SidecarConfig& config, BrokerOptions& broker) {
    app.add_option("--broker", broker.url,
                   "memory, or Redis to share rooms between sidecars: redis://HOST:PORT[/DB] or "
                   "unix:/PATH[?db=DB]")
        ->capture_default_str();
    app.add_option("--broker-password-file", broker.password_file,
                   "File holding the Redis password (AUTH); none: no AUTH");
    app.add_option("--broker-dedupe-ttl", config.broker_dedupe_ttl_s,
                   "Seconds Redis remembers a publish's idempotency key")
        ->capture_default_str()
        ->check(CLI::Range(1u, 30u * 86400u));
    app.add_option("--broker-room-ttl", config.broker_room_ttl_s,
                   "Seconds an idle room's seq, epoch and history stay in Redis")
        ->capture_default_str()
        ->check(CLI::Range(60u, 365u * 86400u));
    app.add_option("--node-id", config.node_id,
                   "This sidecar's name in the cluster view (default: HOSTNAME:PID)");
}

// A bad --broker or password file is a configuration error: one line, exit 2.
bool load_broker(const BrokerOptions& broker, rp::sidecar::SidecarConfig& config) {
    auto url = rp::sidecar::parse_broker_url(broker.url);
    if (!url) {
        std::fprintf(stderr, "roompush-sidecar: %s\n", url.error().message.c_str());
        return false;
    }
    config.broker = *url;
    if (broker.password_file.empty()) return true;
    std::FILE* file = std::fopen(broker.password_file.c_str(), "rb");
    if (file == nullptr) {
        std::fprintf(stderr, "roompush-sidecar: --broker-password-file: cannot read %s: %s\n",
                     broker.password_file.c_str(), std::strerror(errno));
        return false;
    }
    char buffer[513];
    std::size_t length = std::fread(buffer, 1, sizeof buffer, file);
    std::fclose(file);
    std::string password(buffer, length);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
        password.pop_back();
    }
    if (password.empty() || length == sizeof buffer ||
        password.find_first_of("\r\n") != std::string::npos) {
        std::fprintf(stderr, "roompush-sidecar: --broker-password-file: %s must hold one line of "
                             "1 to 512 bytes\n", broker.password_file.c_str());
        return false;
    }
    config.broker_password = std::move(password);
    return true;
}

std::string default_node_id() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "sidecar");
    return std::string(host) + ":" + std::to_string(getpid());
}

// What the flags give as text or in other units, turned into the config after parsing.
struct TextOptions {
    std::string socket_mode = "0660";
    std::string ws_socket_group;
    unsigned history_ttl_s = 600;
    std::vector<std::string> secret_files;
    std::string event_loop = "auto";
};

rp::sidecar::EventLoop event_loop_named(const std::string& name) {
    if (name == "epoll") return rp::sidecar::EventLoop::epoll;
    if (name == "poll") return rp::sidecar::EventLoop::poll;
    return rp::sidecar::EventLoop::automatic;
}

void add_options(CLI::App& app, rp::sidecar::SidecarConfig& config, TextOptions& options) {
    app.add_option("--ws-socket", config.ws_socket, "Unix socket nginx proxies WebSockets to")
        ->capture_default_str();
    app.add_option("--control-socket", config.control_socket,
                   "Unix socket for the control protocol (the app, pushctl)")
        ->capture_default_str();
    app.add_option("--socket-mode", options.socket_mode, "File mode of both sockets (octal)")
        ->capture_default_str()
        ->check(rp::file_mode_validator());
    app.add_option("--ws-socket-group", options.ws_socket_group,
                   "Group given the WebSocket socket, e.g. www-data for nginx (none: the "
                   "sidecar's own); the control socket keeps the sidecar's group")
        ->check(rp::group_validator());
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
    app.add_option("--ping-interval", config.ping_interval_s, "Seconds of silence before a ping")
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
    app.add_option("--history-ttl", options.history_ttl_s, "Seconds a retained message is kept")
        ->capture_default_str()
        ->check(CLI::Range(1u, 30u * 86400u));
    app.add_option("--auth-secret-file", options.secret_files,
                   "File holding the room-token secret; give two to rotate keys (none: open rooms)")
        ->check(CLI::ExistingFile);
    app.add_option("--allowed-origin", config.allowed_origins,
                   "Origin allowed to open WebSockets, e.g. https://app.example (none: any)");
    app.add_option("--control-allow-uid", config.control_uids,
                   "User id allowed on the control socket (none, and no gid: any the mode admits)");
    app.add_option("--control-allow-gid", config.control_gids, "Group id allowed on the control socket");
    app.add_flag("--lws-debug", config.lws_debug,
                 "Also log libwebsockets' notices (needs --log-level debug)");
    app.add_option("--event-loop", options.event_loop,
                   "How the loop waits for its sockets: epoll (libev; package "
                   "libwebsockets-evlib-ev), poll (libwebsockets' own), or auto: epoll if it loads")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "epoll", "poll"}));
}

// What CLI11 cannot check by itself: that the sockets can exist where they are asked to.
bool check_paths(const rp::sidecar::SidecarConfig& config) {
    for (const std::string* path : {&config.ws_socket, &config.control_socket}) {
        if (auto valid = rp::check_socket_path(*path); !valid) {
            std::fprintf(stderr, "roompush-sidecar: %s\n", valid.error().message.c_str());
            return false;
        }
    }
    if (config.ws_socket == config.control_socket) {
        std::fprintf(stderr, "roompush-sidecar: --ws-socket and --control-socket must differ\n");
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    rp::sidecar::SidecarConfig config;
    config.ws_socket = rp::default_ws_socket();
    config.control_socket = rp::default_control_socket();
    rp::CommonOptions common;

    CLI::App app{"roompush-sidecar: pushes room messages to WebSocket clients", "roompush-sidecar"};
    TextOptions options;
    add_options(app, config, options);
    BrokerOptions broker;
    add_broker_options(app, config, broker);
    rp::add_common_options(app, common, ROOMPUSH_VERSION);
    if (auto exit_code = rp::parse_options(app, common, argc, argv)) return *exit_code;
    if (!check_paths(config)) return rp::kExitBadConfig;
    if (!load_broker(broker, config)) return rp::kExitBadConfig;
    if (config.node_id.empty()) config.node_id = default_node_id();
    if (options.secret_files.size() > 2) {
        std::fprintf(stderr, "roompush-sidecar: --auth-secret-file: at most two (the new and the old key)\n");
        return rp::kExitBadConfig;
    }
    for (const std::string& file : options.secret_files) {
        auto secret = rp::load_secret_file(file);
        if (!secret) {
            std::fprintf(stderr, "roompush-sidecar: --auth-secret-file: %s\n", secret.error().message.c_str());
            return rp::kExitBadConfig;
        }
        config.auth_secrets.push_back(std::move(*secret));
    }
    config.socket_mode = *rp::parse_file_mode(options.socket_mode);
    if (!options.ws_socket_group.empty()) {
        config.ws_socket_group = *rp::lookup_group(options.ws_socket_group);
    }
    config.history.ttl_ms = int64_t{options.history_ttl_s} * 1000;
    config.event_loop = event_loop_named(options.event_loop);

    rp::set_log_program("roompush-sidecar");
    if (auto exit_code = rp::finish_options(app, common)) return *exit_code;
    return rp::sidecar::run(config);
}

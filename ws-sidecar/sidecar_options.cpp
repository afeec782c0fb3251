#include "sidecar_options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "roompush/room_token.h"
#include "roompush/runtime_paths.h"
#include "roompush/secret_file.h"
#include "roompush/unix_socket.h"

#ifndef ROOMPUSH_VERSION
#define ROOMPUSH_VERSION "0"
#endif

namespace rp::sidecar {
namespace {

// What the flags give as text or in other units, turned into the config after parsing.
struct TextOptions {
    std::string socket_mode = "0660";
    std::string ws_socket_group;
    unsigned history_ttl_s = 600;
    std::vector<std::string> secret_files;
    std::string event_loop = "auto";
    std::string broker_url = "memory";
    std::string broker_password_file;
};

// The parser and what it fills: one per parse, so that a reload never touches the running
// configuration until it is known to be good.
struct Parser {
    CLI::App app{"roompush-sidecar: pushes room messages to WebSocket clients", "roompush-sidecar"};
    SidecarConfig config;
    TextOptions text;
    CommonOptions common;
    Parser();
};

void add_socket_options(CLI::App& app, SidecarConfig& config, TextOptions& text) {
    app.add_option("--ws-socket", config.ws_socket, "Unix socket nginx proxies WebSockets to")
        ->capture_default_str();
    app.add_option("--control-socket", config.control_socket,
                   "Unix socket for the control protocol (the app, pushctl)")
        ->capture_default_str();
    app.add_option("--socket-mode", text.socket_mode, "File mode of both sockets (octal)")
        ->capture_default_str()
        ->check(file_mode_validator());
    app.add_option("--ws-socket-group", text.ws_socket_group,
                   "Group given the WebSocket socket, e.g. www-data for nginx (none: the "
                   "sidecar's own); the control socket keeps the sidecar's group")
        ->check(group_validator());
}

void add_limit_options(CLI::App& app, SidecarConfig& config, TextOptions& text) {
    app.add_option("--max-queue", config.max_queue_bytes,
                   "Bytes queued per client before it is dropped as a slow consumer (1013)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1024}, size_t{1} << 34));
    app.add_option("--max-frame", config.max_client_frame, "Largest client frame in bytes (1009)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{64}, size_t{1} << 20));
    app.add_flag("--ws-deflate", config.ws_deflate,
                 "Compress messages (permessage-deflate) for WebSocket clients that offer it: "
                 "each message once, shared by every member that negotiated it")
        ->check(boolean_validator());
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
    app.add_option("--history", config.history.max_messages,
                   "Messages retained per room for resume")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1000000}));
    app.add_option("--history-bytes", config.history.max_bytes, "Bytes retained per room")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 34));
    app.add_option("--history-ttl", text.history_ttl_s, "Seconds a retained message is kept")
        ->capture_default_str()
        ->check(CLI::Range(1u, 30u * 86400u));
}

void add_access_options(CLI::App& app, SidecarConfig& config, TextOptions& text) {
    app.add_option("--auth-secret-file", text.secret_files,
                   "File holding the room-token secret; give two to rotate keys (none: open "
                   "rooms). Read again on reload")
        ->check(CLI::ExistingFile);
    app.add_option("--allowed-origin", config.allowed_origins,
                   "Origin allowed to open WebSockets, e.g. https://app.example (none: any). "
                   "Read again on reload");
    app.add_option("--control-allow-uid", config.control_uids,
                   "User id allowed on the control socket (none, and no gid: any the mode admits)");
    app.add_option("--control-allow-gid", config.control_gids,
                   "Group id allowed on the control socket");
    app.add_flag("--lws-debug", config.lws_debug,
                 "Also log libwebsockets' notices (needs --log-level debug)")
        ->check(boolean_validator());
    app.add_option("--event-loop", text.event_loop,
                   "How the loop waits for its sockets: epoll (libev; package "
                   "libwebsockets-evlib-ev), poll (libwebsockets' own), or auto: epoll if it loads")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "epoll", "poll"}));
}

void add_client_publish_options(CLI::App& app, SidecarConfig& config) {
    app.add_flag("--client-publish", config.client_publish_open,
                 "Let members of open rooms (no --auth-secret-file) send messages to their rooms; "
                 "with secrets, a token's \"publish\" capability decides")
        ->check(boolean_validator());
    app.add_option("--client-publish-max-bytes", config.client_publish_max_bytes,
                   "Largest data of one message from a browser, in bytes (message_too_big)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{2}, size_t{1} << 20));
    app.add_option("--client-publish-rate", config.client_publish_rate.per_second,
                   "Messages per second one connection may send, on average (rate_limited)")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 10000.0));
    app.add_option("--client-publish-burst", config.client_publish_rate.burst,
                   "Messages one connection may send at once before the rate applies")
        ->capture_default_str()
        ->check(CLI::Range(1.0, 10000.0));
}

void add_presence_options(CLI::App& app, SidecarConfig& config) {
    app.add_flag("--presence", config.presence_open,
                 "Show every member of an open room (no --auth-secret-file) to the others: "
                 "presence answers, join and leave; with secrets, a token's \"presence\" decides")
        ->check(boolean_validator());
    app.add_option("--presence-max-members", config.presence_max_members,
                   "Members a room's presence names; past that it sends its count instead, at "
                   "most once a second")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{100000}));
}

void add_broker_options(CLI::App& app, SidecarConfig& config, TextOptions& text) {
    app.add_option("--broker", text.broker_url,
                   "memory, or Redis to share rooms between sidecars: redis://HOST:PORT[/DB], "
                   "unix:/PATH[?db=DB] or sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]; "
                   "several Redis URLs separated by spaces are shards")
        ->capture_default_str();
    app.add_option("--broker-password-file", text.broker_password_file,
                   "File holding the Redis password (AUTH); none: no AUTH");
    app.add_option("--broker-user", config.broker_credentials.user,
                   "Redis ACL user for AUTH user password (needs --broker-password-file)")
        ->check([](const std::string& user) -> std::string {
            if (user.empty() || user.size() > 128) return "1 to 128 characters";
            for (char c : user) {
                if (c <= ' ' || c == 0x7f) return "no spaces or control characters";
            }
            return "";
        });
    app.add_option("--broker-min-replicas", config.broker_min_replicas,
                   "Acknowledge a publish only once this many Redis replicas have it (WAIT), so "
                   "that a failover loses none; 1 with Sentinel")
        ->capture_default_str()
        ->check(CLI::Range(0, 16));
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

Parser::Parser() {
    config.ws_socket = default_ws_socket();
    config.control_socket = default_control_socket();
    add_socket_options(app, config, text);
    add_limit_options(app, config, text);
    add_access_options(app, config, text);
    add_client_publish_options(app, config);
    add_presence_options(app, config);
    add_broker_options(app, config, text);
    add_common_options(app, common, ROOMPUSH_VERSION);
}

Error bad_config(std::string message) { return make_error("bad_config", std::move(message)); }

// What CLI11 cannot check by itself: that the sockets can exist where they are asked to.
Status check_paths(const SidecarConfig& config) {
    for (const std::string* path : {&config.ws_socket, &config.control_socket}) {
        if (auto valid = check_socket_path(*path); !valid) return bad_config(valid.error().message);
    }
    if (config.ws_socket == config.control_socket) {
        return bad_config("--ws-socket and --control-socket must differ");
    }
    return ok_status();
}

// Redis' AUTH password: one line of 1 to 512 bytes.
Result<std::string> read_password_file(const std::string& path) {
    auto password = read_secret_file(path, {.min_bytes = 1, .max_bytes = 512, .one_line = true});
    if (!password) return bad_config("--broker-password-file: " + password.error().message);
    return password;
}

// A bad --broker or password file is a configuration error like any other.
Status load_broker(const TextOptions& text, SidecarConfig& config) {
    auto spec = parse_broker_spec(text.broker_url);
    if (!spec) return bad_config(spec.error().message);
    config.broker = std::move(*spec);
    if (text.broker_password_file.empty()) {
        if (!config.broker_credentials.user.empty()) {
            return bad_config("--broker-user needs --broker-password-file");
        }
        return ok_status();
    }
    auto password = read_password_file(text.broker_password_file);
    if (!password) return password.error();
    config.broker_credentials.password = std::move(*password);
    return ok_status();
}

Status load_secrets(const TextOptions& text, SidecarConfig& config) {
    if (text.secret_files.size() > 2) {
        return bad_config("--auth-secret-file: at most two (the new and the old key)");
    }
    for (const std::string& file : text.secret_files) {
        auto secret = load_secret_file(file);
        if (!secret) return bad_config("--auth-secret-file: " + secret.error().message);
        config.auth_secrets.push_back(std::move(*secret));
    }
    return ok_status();
}

std::string default_node_id() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "sidecar");
    return std::string(host) + ":" + std::to_string(getpid());
}

EventLoop event_loop_named(const std::string& name) {
    if (name == "epoll") return EventLoop::epoll;
    if (name == "poll") return EventLoop::poll;
    return EventLoop::automatic;
}

// The parsed text into the configuration, reading the files it names.
Result<LoadedConfig> finish(Parser& parser) {
    SidecarConfig& config = parser.config;
    const TextOptions& text = parser.text;
    if (auto valid = check_paths(config); !valid) return valid.error();
    if (auto loaded = load_broker(text, config); !loaded) return loaded.error();
    if (auto loaded = load_secrets(text, config); !loaded) return loaded.error();
    if (config.node_id.empty()) config.node_id = default_node_id();
    config.socket_mode = *parse_file_mode(text.socket_mode);  // checked by its validator
    if (!text.ws_socket_group.empty()) config.ws_socket_group = *lookup_group(text.ws_socket_group);
    config.history.ttl_ms = int64_t{text.history_ttl_s} * 1000;
    config.event_loop = event_loop_named(text.event_loop);
    LoadedConfig loaded{std::move(config), LogLevel::info, option_values(parser.app)};
    parse_log_level(parser.common.log_level, loaded.log_level);  // checked by IsMember
    return loaded;
}

}  // namespace

std::variant<int, LoadedConfig> load_config_at_start(int argc, char** argv) {
    Parser parser;
    return load_at_start<LoadedConfig>(parser.app, parser.common, argc, argv,
                                       [&parser] { return finish(parser); });
}

Result<LoadedConfig> load_config_again(int argc, char** argv) {
    Parser parser;
    return load_again<LoadedConfig>(parser.app, argc, argv, [&parser] { return finish(parser); });
}

}  // namespace rp::sidecar

#pragma once
// Everything the sidecar can be told, with its defaults (see main.cpp for the flags).

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "room_history.h"
#include "roompush/broker_url.h"
#include "roompush/control_codec.h"
#include "roompush/redis_connection.h"
#include "token_bucket.h"

namespace rp::sidecar {

// How the loop waits for its sockets: libev's epoll backend (libwebsockets' libev plugin), or
// libwebsockets' own poll(), which looks at every connection on every turn. auto: epoll when
// the plugin loads, else poll with a warning.
enum class EventLoop { automatic, epoll, poll };

struct SidecarConfig {
    std::string ws_socket;                  // nginx connects here (Upgrade proxy)
    std::string control_socket;             // the app and pushctl connect here
    mode_t socket_mode = 0660;              // both sockets
    std::optional<gid_t> ws_socket_group;   // the WebSocket socket's group (nginx's)
    std::size_t max_queue_bytes = 8 << 20;  // per WebSocket client
    std::size_t max_client_frame = 4096;    // a client's command frame
    bool ws_deflate = false;                // permessage-deflate for clients that offer it
    std::size_t max_rooms_per_connection = 64;
    std::size_t max_control_line = kDefaultMaxControlLine;
    std::size_t max_control_clients = 64;
    unsigned ping_interval_s = 30;
    unsigned ping_timeout_s = 10;
    unsigned shutdown_grace_ms = 2000;     // time for clients to get their 1001 close
    HistoryLimits history;                 // per room: --history, --history-bytes, --history-ttl
    std::size_t max_tail_bytes = 8 << 20;  // a control `tail` that falls behind is ended
    bool lws_debug = false;                // libwebsockets' own notices (at log level debug)
    EventLoop event_loop = EventLoop::automatic;
    std::vector<std::string> auth_secrets;     // loaded from --auth-secret-file; empty: open rooms
    std::vector<std::string> allowed_origins;  // empty: any Origin may upgrade
    std::vector<uid_t> control_uids;           // peers allowed on the control socket (with gids)
    std::vector<gid_t> control_gids;           // both empty: anyone the socket mode lets in
    BrokerSpec broker;                         // --broker: memory, or Redis (docs/scaling.md)
    RedisCredentials broker_credentials;       // --broker-user, --broker-password-file
    int broker_min_replicas = 0;               // replicas that must have a publish before its ack
    unsigned broker_dedupe_ttl_s = 86400;      // idempotency keys kept in Redis
    unsigned broker_room_ttl_s = 7 * 86400;    // an idle room's keys in Redis
    std::string node_id;                       // this sidecar in the cluster view
    // Messages from browsers (docs/websocket.md `publish`): who may send (a token's "publish"
    // capability; in open rooms, --client-publish), how large, how often per connection.
    bool client_publish_open = false;
    std::size_t client_publish_max_bytes = 2048;
    TokenRate client_publish_rate;
    // Presence (docs/websocket.md): who may be seen (a token's "presence"; in open rooms,
    // --presence), and how many a room names before it counts instead.
    bool presence_open = false;
    std::size_t presence_max_members = 100;
};

}  // namespace rp::sidecar

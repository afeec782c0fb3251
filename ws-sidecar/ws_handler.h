#pragma once
// What happens when a WebSocket opens, speaks or closes, in plain C++ (ws_engine.cpp calls these
// for the events ws_server.cpp gets from libwebsockets). Every call only queues frames on the
// session; the caller then asks for a writeable callback.

#include <string>
#include <string_view>

#include "client_publish.h"
#include "room_registry.h"
#include "sidecar_config.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

class WsHandler {
public:
    WsHandler(RoomRegistry& registry, const SidecarConfig& config, SidecarMetrics& metrics)
        : registry_(registry), config_(config), metrics_(metrics) {}

    // `path` without the query; `query` without the '?'.
    SessionId open(std::string_view path, std::string_view query, std::string peer, int64_t now_ms);
    void on_text(SessionId id, std::string_view text);
    void on_binary(SessionId id);
    void on_too_big(SessionId id);
    void closed(SessionId id) { registry_.remove_session(id); }
    // Where admitted `publish` commands go; none (until set): every publish is refused.
    void set_publisher(ClientPublisher* publisher) { publisher_ = publisher; }

    // Every session is closed with 1001.
    void begin_shutdown();
    // Sends an `error` frame, then closes with `code` once it is written.
    void fail(SessionId id, const Error& error, CloseCode code);
    // Sends an `error` frame for a refused command (naming its room); the connection and its
    // rooms stay.
    void refuse(SessionId id, const Error& error, const std::string& room = {});

private:
    // `command`: a subscribe sent on /ws, whose refusal keeps the connection and its other
    // rooms; a /ws/rooms/ROOM connection has no other room and is closed (1008).
    void subscribe(SessionId id, const std::string& room, const JoinRequest& request,
                   const std::string& token, bool command);
    void unsubscribe(SessionId id, const std::string& room);
    void publish(SessionId id, ControlRequest request);
    Result<RoomRights> authorize(SessionId id, const std::string& room, const std::string& token);
    ClientPublishRules publish_rules() const;

    RoomRegistry& registry_;
    const SidecarConfig& config_;
    SidecarMetrics& metrics_;
    ClientPublisher* publisher_ = nullptr;
};

}  // namespace rp::sidecar

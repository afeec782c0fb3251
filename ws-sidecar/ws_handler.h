#pragma once
// What happens when a WebSocket opens, speaks or closes, in plain C++ (ws_engine.cpp calls these
// for the events ws_server.cpp gets from libwebsockets). Every call only queues frames on the
// session; the caller then asks for a writeable callback.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "client_publish.h"
#include "room_presence.h"
#include "room_registry.h"
#include "sidecar_config.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

class WsHandler {
public:
    using Waker = std::function<void(const std::vector<SessionId>&)>;

    // `wake`: sessions other than the one a call is about got frames (presence's join/leave).
    WsHandler(RoomRegistry& registry, const SidecarConfig& config, SidecarMetrics& metrics,
              Waker wake)
        : registry_(registry),
          config_(config),
          metrics_(metrics),
          wake_(std::move(wake)),
          presence_(config.presence_max_members) {}

    // `path` without the query; `query` without the '?'.
    SessionId open(std::string_view path, std::string_view query, std::string peer, int64_t now_ms);
    void on_text(SessionId id, std::string_view text);
    void on_binary(SessionId id);
    void on_too_big(SessionId id);
    void closed(SessionId id);
    // Once a second: the counts of rooms too large to name their members.
    void flush_presence_counts();
    // Who is visible here (the cluster report and other nodes' joins read it). Loop thread.
    RoomPresence& room_presence() { return presence_; }
    // Where admitted `publish` commands go; none (until set): every publish is refused.
    void set_publisher(ClientPublisher* publisher) { publisher_ = publisher; }

    // Every session is closed with 1001.
    void begin_shutdown();
    // Sends an `error` frame, then closes with `code` once it is written.
    void fail(SessionId id, const Error& error, CloseCode code);
    // With secrets, the room's token checked (and logged when refused, with the session's peer):
    // what it grants. Without, nothing beyond joining.
    Result<RoomRights> authorize(SessionId id, const std::string& room, const std::string& token);
    // Joins as a `subscribe` command does (a refusal costs the room, not the connection).
    void join(SessionId id, const std::string& room, const JoinRequest& request,
              const std::string& token) {
        subscribe(id, room, request, token, true);
    }

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
    void presence(SessionId id, const std::string& room);
    void show(SessionId id, const std::string& room, const RoomRights& rights);
    void tell(const PresenceNotice& notice);
    void changed(const std::string& room, const char* type, const PresenceNotice& notice);
    void answer_cluster(SessionId id, const std::string& room, ClientPublisher::Reports reports);
    ClientPublishRules publish_rules() const;

    RoomRegistry& registry_;
    const SidecarConfig& config_;
    SidecarMetrics& metrics_;
    Waker wake_;
    ClientPublisher* publisher_ = nullptr;
    RoomPresence presence_;
};

}  // namespace rp::sidecar

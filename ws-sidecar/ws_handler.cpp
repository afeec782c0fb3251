#include "ws_handler.h"

#include <chrono>

#include "cluster_view.h"
#include "roompush/log.h"
#include "roompush/room_token.h"
#include "roompush/wall_clock.h"
#include "ws_codec.h"

namespace rp::sidecar {

SessionId WsHandler::open(std::string_view path, std::string_view query, std::string peer,
                          int64_t now_ms) {
    SessionId id = registry_.add_session(peer, now_ms);
    metrics_.connections_opened++;
    log_debug("ws_open").kv("session", id).kv("peer", peer).kv("path", path);
    auto target = parse_ws_path(path);
    if (!target) {
        fail(id, target.error(), CloseCode::policy);
        return id;
    }
    auto resume = parse_ws_query(query);
    if (!resume) {
        fail(id, resume.error(), CloseCode::policy);
        return id;
    }
    if (target->kind == WsTarget::Kind::room) {
        subscribe(id, target->room, JoinRequest{resume->since, resume->epoch, false}, resume->token,
                  false);
    }
    return id;
}

void WsHandler::on_text(SessionId id, std::string_view text) {
    auto command = decode_client_command(text);
    if (!command) {
        fail(id, command.error(), CloseCode::policy);
        return;
    }
    switch (command->op) {
        case ClientCommand::Op::subscribe:
            subscribe(id, command->room, JoinRequest{command->since, command->epoch, false},
                      command->token, true);
            break;
        case ClientCommand::Op::unsubscribe:
            unsubscribe(id, command->room);
            break;
        case ClientCommand::Op::publish:
            publish(id, std::move(command->publish));
            break;
        case ClientCommand::Op::presence:
            presence(id, command->room);
            break;
        case ClientCommand::Op::ping:
            registry_.send(id, make_frame(encode_pong()));
            break;
    }
}

// -------- presence --------

void WsHandler::closed(SessionId id) {
    if (Session* session = registry_.find(id)) {
        for (const std::string& room : session->rooms()) {
            changed(room, "leave", presence_.leave(room, id));
        }
    }
    registry_.remove_session(id);
}

// This node's members hear it at once; with Redis the other nodes' members through it.
void WsHandler::changed(const std::string& room, const char* type, const PresenceNotice& notice) {
    tell(notice);
    if (!notice.member.empty() && publisher_ != nullptr) {
        publisher_->presence_changed(room, type, notice.member);
    }
}

void WsHandler::tell(const PresenceNotice& notice) {
    if (!send_notice(registry_, notice).empty()) wake_(notice.to);
}

void WsHandler::flush_presence_counts() {
    presence_.set_max_announced(config_.presence_max_members);
    for (const PresenceNotice& notice : presence_.flush_counts()) tell(notice);
}

// A member is seen when its token grants presence, or in open rooms with --presence.
void WsHandler::show(SessionId id, const std::string& room, const RoomRights& rights) {
    bool seen = config_.auth_secrets.empty() ? config_.presence_open : rights.presence;
    if (!seen) {
        changed(room, "leave", presence_.leave(room, id));  // a refreshed token may take it away
        return;
    }
    changed(room, "join",
            presence_.join(room, id, sender_json(config_.node_id, id, rights.user, rights.info)));
}

void WsHandler::presence(SessionId id, const std::string& room) {
    if (!registry_.is_member(id, room)) {
        refuse(id, make_error("not_subscribed", "subscribe to " + room + " to see who is in it"),
               room);
        return;
    }
    if (!presence_.present(room, id)) {
        refuse(
            id,
            make_error("presence_forbidden", config_.auth_secrets.empty()
                                                 ? "presence is off in open rooms (--presence)"
                                                 : "this room's token does not grant \"presence\""),
            room);
        return;
    }
    // With Redis the answer is the cluster's: every node's report, this node's members as they
    // are now. Asked off the loop; the answer comes back to it.
    bool asked = publisher_ != nullptr &&
                 publisher_->ask_cluster([this, id, room](ClientPublisher::Reports reports) {
                     answer_cluster(id, room, std::move(reports));
                 });
    if (!asked) registry_.send(id, make_frame(presence_.answer(room)));
}

void WsHandler::answer_cluster(SessionId id, const std::string& room,
                               ClientPublisher::Reports reports) {
    Session* session = registry_.find(id);
    if (session == nullptr || session->closing()) return;
    if (!reports) {
        refuse(id, reports.error(), room);
    } else {
        registry_.send(id, make_frame(encode_cluster_presence(room, *reports, config_.node_id,
                                                              presence_.members(room),
                                                              presence_.max_announced())));
    }
    wake_({id});
}

void WsHandler::unsubscribe(SessionId id, const std::string& room) {
    if (!registry_.leave(id, room)) {
        refuse(id, make_error("not_subscribed", "not subscribed to " + room), room);
        return;
    }
    if (Session* session = registry_.find(id)) session->set_rights(room, {});
    changed(room, "leave", presence_.leave(room, id));
    registry_.send(id, make_frame(encode_unsubscribed(room)));
}

ClientPublishRules WsHandler::publish_rules() const {
    return {.tokens = !config_.auth_secrets.empty(),
            .open_rooms = config_.client_publish_open,
            .max_bytes = config_.client_publish_max_bytes,
            .rate = config_.client_publish_rate,
            .node_id = config_.node_id};
}

// A refused message keeps the connection: the `error` names the room and the id it came with.
void WsHandler::publish(SessionId id, ControlRequest request) {
    Session* session = registry_.find(id);
    if (session == nullptr) return;
    std::string room = request.room;
    std::string key = request.id;
    auto admitted = admit_client_publish(*session, registry_.is_member(id, room),
                                         std::move(request), publish_rules(), now_ms());
    Error refusal;
    if (!admitted) {
        refusal = admitted.error();
    } else if (publisher_ == nullptr || !publisher_->submit(id, std::move(*admitted))) {
        refusal = make_error("unavailable", "the sidecar cannot take messages now; send again");
    } else {
        return;
    }
    metrics_.client_publish_refused++;
    log_debug("client_publish_refused").kv("session", id).kv("room", room).kv("code", refusal.code);
    registry_.send(id, make_frame(encode_ws_error(refusal, room, key)));
}

void WsHandler::on_binary(SessionId id) {
    fail(id, make_error("binary_frame", "binary frames are not accepted; send JSON text"),
         CloseCode::unsupported_data);
}

void WsHandler::on_too_big(SessionId id) {
    fail(id,
         make_error("frame_too_big", "a client frame may be at most " +
                                         std::to_string(config_.max_client_frame) + " bytes"),
         CloseCode::too_big);
}

void WsHandler::begin_shutdown() {
    for (SessionId id : registry_.session_ids()) {
        if (Session* session = registry_.find(id)) {
            session->request_close(CloseCode::going_away, "server shutting down", false);
        }
    }
}

// With secrets configured every join needs a valid token for the room, and what it grants beyond
// joining is the member's in that room. The log names the room and the reason, never the token.
Result<RoomRights> WsHandler::authorize(SessionId id, const std::string& room,
                                        const std::string& token) {
    if (config_.auth_secrets.empty()) return RoomRights{};
    auto claims = verify_token(token, config_.auth_secrets, room, now_s());
    if (claims) {
        return RoomRights{.publish = claims->publish,
                          .user = std::move(claims->user),
                          .presence = claims->presence,
                          .info = std::move(claims->info)};
    }
    Session* session = registry_.find(id);
    log_warn("auth_refused")
        .kv("session", id)
        .kv("room", room)
        .kv("code", claims.error().code)
        .kv("peer", session ? session->peer() : "");
    return claims.error();
}

// A token refused on /ws costs that room only: a page whose token expired while it was away
// asks for a new one and subscribes again, and its other rooms never stop.
void WsHandler::subscribe(SessionId id, const std::string& room, const JoinRequest& request,
                          const std::string& token, bool command) {
    auto rights = authorize(id, room, token);
    if (!rights && command) {
        refuse(id, rights.error(), room);
        return;
    }
    if (!rights) {
        fail(id, rights.error(), CloseCode::policy);
        return;
    }
    auto joined = registry_.join(id, room, request);
    if (!joined) {
        // Over the room limit the subscribe is refused, not the connection: its other rooms
        // keep working.
        refuse(id, joined.error(), room);
        return;
    }
    // A subscribe again (a refreshed token) replaces what the last token granted.
    show(id, room, *rights);
    if (Session* session = registry_.find(id)) session->set_rights(room, std::move(*rights));
    if (joined->resume.reset || !joined->resume.replay.empty()) {
        log_info("ws_resume")
            .kv("session", id)
            .kv("room", room)
            .kv("reset", joined->resume.reset)
            .kv("replayed", joined->resume.replay.size());
    }
}

void WsHandler::refuse(SessionId id, const Error& error, const std::string& room) {
    Session* session = registry_.find(id);
    if (session == nullptr || session->closing()) return;
    log_debug("ws_command_refused").kv("session", id).kv("room", room).kv("code", error.code);
    registry_.send(id, make_frame(encode_ws_error(error, room)));
}

// The client hears why before the close: an `error` frame, then the close code.
void WsHandler::fail(SessionId id, const Error& error, CloseCode code) {
    Session* session = registry_.find(id);
    if (session == nullptr || session->closing()) return;
    metrics_.ws_refused++;
    log_info("ws_refused")
        .kv("session", id)
        .kv("peer", session->peer())
        .kv("code", error.code)
        .kv("close", static_cast<int>(code));
    registry_.send(id, make_frame(encode_ws_error(error)));
    session->request_close(code, error.code, true);
}

}  // namespace rp::sidecar

#include "ws_handler.h"

#include <chrono>

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
        subscribe(id, target->room, JoinRequest{resume->since, resume->epoch, false},
                  resume->token);
    }
    return id;
}

void WsHandler::on_text(SessionId id, std::string_view text) {
    auto command = decode_client_command(text);
    if (!command) {
        fail(id, command.error(), CloseCode::policy);
        return;
    }
    if (command->op == ClientCommand::Op::subscribe) {
        subscribe(id, command->room, JoinRequest{command->since, command->epoch, false},
                  command->token);
    } else if (registry_.leave(id, command->room)) {
        registry_.send(id, make_frame(encode_unsubscribed(command->room)));
    } else {
        refuse(id, make_error("not_subscribed", "not subscribed to " + command->room));
    }
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

// With secrets configured every join needs a valid token for the room. The log names the room
// and the reason, never the token.
Status WsHandler::authorize(SessionId id, const std::string& room, const std::string& token) {
    if (config_.auth_secrets.empty()) return ok_status();
    auto claims = verify_token(token, config_.auth_secrets, room, now_s());
    if (claims) return ok_status();
    Session* session = registry_.find(id);
    log_warn("auth_refused")
        .kv("session", id)
        .kv("room", room)
        .kv("code", claims.error().code)
        .kv("peer", session ? session->peer() : "");
    return claims.error();
}

void WsHandler::subscribe(SessionId id, const std::string& room, const JoinRequest& request,
                          const std::string& token) {
    if (auto allowed = authorize(id, room, token); !allowed) {
        fail(id, allowed.error(), CloseCode::policy);
        return;
    }
    auto joined = registry_.join(id, room, request);
    if (!joined) {
        // Over the room limit the subscribe is refused, not the connection: its other rooms
        // keep working.
        refuse(id, joined.error());
        return;
    }
    if (joined->resume.reset || !joined->resume.replay.empty()) {
        log_info("ws_resume")
            .kv("session", id)
            .kv("room", room)
            .kv("reset", joined->resume.reset)
            .kv("replayed", joined->resume.replay.size());
    }
}

void WsHandler::refuse(SessionId id, const Error& error) {
    Session* session = registry_.find(id);
    if (session == nullptr || session->closing()) return;
    log_debug("ws_command_refused").kv("session", id).kv("code", error.code);
    registry_.send(id, make_frame(encode_ws_error(error)));
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

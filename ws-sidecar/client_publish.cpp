#include "client_publish.h"

#include "roompush/json.h"

namespace rp::sidecar {

bool is_server_event(std::string_view event) { return event.substr(0, 4) == "job."; }

std::string sender_json(std::string_view node_id, SessionId id, std::string_view user,
                        std::string_view info) {
    JsonPtr from = make_object();
    set_string(from.get(), "conn", std::string(node_id) + "/" + std::to_string(id));
    if (!user.empty()) set_string(from.get(), "user", user);
    if (!info.empty()) {
        if (auto parsed = parse_json(info)) {
            cJSON_AddItemToObject(from.get(), "info", cJSON_Duplicate(parsed->get(), true));
        }
    }
    return to_json(from.get());
}

namespace {

Status check_right(const Session& session, bool member, const std::string& room,
                   const ClientPublishRules& rules) {
    if (!member) {
        return make_error("not_subscribed",
                          "subscribe to " + room + " before sending messages to it");
    }
    const RoomRights* rights = session.rights(room);
    bool allowed = rules.tokens ? rights != nullptr && rights->publish : rules.open_rooms;
    if (allowed) return ok_status();
    return make_error("publish_forbidden",
                      rules.tokens ? "this room's token does not grant \"publish\""
                                   : "messages from browsers are off (--client-publish)");
}

Status check_message(const ControlRequest& request, const ClientPublishRules& rules) {
    if (is_server_event(request.event)) {
        return make_error("event_reserved",
                          "events named job.* come from the server; choose another name");
    }
    if (request.data.size() > rules.max_bytes) {
        return make_error("message_too_big", "a message's data may be at most " +
                                                 std::to_string(rules.max_bytes) + " bytes");
    }
    return ok_status();
}

}  // namespace

Result<ControlRequest> admit_client_publish(Session& session, bool member, ControlRequest request,
                                            const ClientPublishRules& rules, int64_t now_ms) {
    if (auto allowed = check_right(session, member, request.room, rules); !allowed) {
        return allowed.error();
    }
    if (auto fits = check_message(request, rules); !fits) return fits.error();
    TokenBucket& budget = session.publish_budget();
    if (!budget.take(rules.rate, now_ms)) {
        return make_error("rate_limited", "too many messages; send again in " +
                                              std::to_string(budget.wait_ms(rules.rate)) + " ms");
    }
    const RoomRights* rights = session.rights(request.room);
    request.from = sender_json(rules.node_id, session.id(), rights ? rights->user : "");
    return request;
}

}  // namespace rp::sidecar

#include "control_handler.h"

#include <algorithm>

#include "cluster_view.h"
#include "roompush/log.h"
#include "ws_codec.h"

namespace rp::sidecar {
namespace {

Error no_room(const std::string& room) {
    return make_error("not_found", "no room " + room + " (no members and nothing retained)");
}

ControlReply publish(ControlContext& context, const ControlRequest& request, int64_t now_ms) {
    PublishOutcome outcome =
        context.registry.publish(request.room, request.event, request.data, request.id, now_ms);
    log_debug("publish")
        .kv("room", request.room)
        .kv("event", request.event)
        .kv("seq", outcome.seq)
        .kv("delivered", outcome.delivered)
        .kv("duplicate", outcome.duplicate);
    return {ControlResponse::success(
                encode_publish_response({outcome.seq, outcome.delivered, outcome.duplicate})),
            std::move(outcome.wake)};
}

ControlReply room(ControlContext& context, const ControlRequest& request) {
    auto detail = context.registry.detail(request.room);
    if (!detail) return {ControlResponse::failure(no_room(request.room)), {}};
    JsonPtr out = make_object();
    set_bool(out.get(), "ok", true);
    set_string(out.get(), "room", request.room);
    set_string(out.get(), "epoch", detail->epoch);
    set_number(out.get(), "seq", static_cast<double>(detail->seq));
    set_number(out.get(), "retained", static_cast<double>(detail->retained));
    JsonPtr members = make_array();
    for (const MemberInfo& member : detail->members) {
        cJSON_AddItemToArray(members.get(),
                             member_entry(request.room, member, context.presence).release());
    }
    set_json(out.get(), "members", std::move(members));
    return {ControlResponse::success(to_json(out.get())), {}};
}

// The retained frames are already JSON: they are spliced in, not parsed and printed again.
std::string history_line(const std::string& room, const std::string& epoch, uint64_t seq,
                         const std::vector<std::string_view>& messages) {
    JsonPtr head = make_object();
    set_bool(head.get(), "ok", true);
    set_string(head.get(), "room", room);
    set_string(head.get(), "epoch", epoch);
    set_number(head.get(), "seq", static_cast<double>(seq));
    std::string line = to_json(head.get());
    line.pop_back();  // the closing brace
    line += ",\"messages\":[";
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i > 0) line += ',';
        line += messages[i];
    }
    line += "]}";
    return line;
}

ControlReply history(ControlContext& context, const ControlRequest& request) {
    auto view = context.registry.history(request.room, request.since.value_or(0),
                                         request.limit.value_or(kDefaultHistoryLimit));
    if (!view) return {ControlResponse::failure(no_room(request.room)), {}};
    std::vector<std::string_view> messages;
    for (const FramePtr& frame : view->frames) messages.push_back(frame->text());
    return {ControlResponse::success(history_line(request.room, view->epoch, view->seq, messages)),
            {}};
}

ControlReply stats(ControlContext& context, bool prometheus, int64_t now_ms) {
    SidecarGauges gauges = context.registry.gauges();
    if (prometheus) {
        JsonPtr out = make_object();
        set_bool(out.get(), "ok", true);
        set_string(out.get(), "text", render_prometheus(context.metrics, gauges));
        return {ControlResponse::success(to_json(out.get())), {}};
    }
    // A wall clock set back before the start would make it negative: 0 then.
    auto uptime_s =
        static_cast<uint64_t>(std::max<int64_t>(0, (now_ms - context.started_ms) / 1000));
    return {ControlResponse::success(encode_stats_response({context.metrics, gauges, uptime_s})),
            {}};
}

ControlReply kick(ControlContext& context, const ControlRequest& request) {
    SessionId member = request.member;
    Session* session = context.registry.find(member);
    if (session == nullptr || !context.registry.is_member(member, request.room)) {
        std::string missing = "no member " + std::to_string(member) + " in room " + request.room;
        return {ControlResponse::failure(make_error("not_found", missing)), {}};
    }
    log_info("kick").kv("room", request.room).kv("member", member).kv("peer", session->peer());
    context.registry.send(
        member, make_frame(encode_ws_error(make_error(
                    "kicked", "an operator removed this connection from " + request.room))));
    session->request_close(CloseCode::policy, "kicked", true);
    return {ControlResponse{}, {member}};
}

}  // namespace

std::string encode_history_page(const std::string& room, const HistoryPage& page) {
    std::vector<std::string_view> messages(page.messages.begin(), page.messages.end());
    return history_line(room, page.epoch, page.seq, messages);
}

ControlReply handle_control(ControlContext& context, const ControlRequest& request,
                            int64_t now_ms) {
    switch (request.op) {
        case ControlOp::publish:
            return publish(context, request, now_ms);
        case ControlOp::rooms:
            return {ControlResponse::success(encode_rooms_response(context.registry.summaries())),
                    {}};
        case ControlOp::room:
            return room(context, request);
        case ControlOp::history:
            return history(context, request);
        case ControlOp::stats:
            return stats(context, request.prometheus, now_ms);
        case ControlOp::kick:
            return kick(context, request);
        case ControlOp::tail:
        case ControlOp::reload:
            break;
    }
    return {ControlResponse::failure(make_error(
                "unknown_op", std::string(op_name(request.op)) + " is handled by the connection")),
            {}};
}

}  // namespace rp::sidecar

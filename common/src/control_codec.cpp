// Both directions of the control protocol (docs/protocol.md) in one file, so that what the
// sidecar decodes and what pushctl and the app encode cannot drift apart; that is why it is a
// little over 400 lines.

#include "roompush/control_codec.h"

#include <charconv>

#include "publish_scan.h"
#include "roompush/json_text.h"
#include "roompush/room_id.h"
#include "roompush/utf8.h"

namespace rp {
namespace {

bool is_event_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

// The text starts as cJSON's value does: a cheap check that the scanner found the same member.
bool starts_like(std::string_view text, const cJSON* value) {
    char first = text.empty() ? '\0' : text.front();
    if (cJSON_IsObject(value)) return first == '{';
    if (cJSON_IsArray(value)) return first == '[';
    if (cJSON_IsString(value)) return first == '"';
    if (cJSON_IsNumber(value)) return first == '-' || (first >= '0' && first <= '9');
    if (cJSON_IsTrue(value)) return first == 't';
    if (cJSON_IsFalse(value)) return first == 'f';
    return cJSON_IsNull(value) && first == 'n';
}

// The data as the publisher wrote it; cJSON's printing of it when the scanner is not sure.
std::string data_text(std::string_view line, const cJSON* data) {
    auto text = find_member_text(line, "data");
    if (text && starts_like(*text, data)) return std::string(*text);
    return to_json(data);
}

}  // namespace

Status decode_publish_fields(const cJSON* object, std::string_view line, ControlRequest& request) {
    auto room = require_string(object, "room");
    if (!room) return room.error();
    if (auto valid = check_room_id(*room); !valid) return valid.error();
    auto event = require_string(object, "event");
    if (!event) return event.error();
    if (auto valid = check_event_name(*event); !valid) return valid.error();
    auto id = get_string(object, "id");
    if (!id) return id.error();
    if (id->has_value() && (**id).size() > kMaxIdempotencyKeyLength) {
        return make_error("invalid_id", "field \"id\" is longer than " +
                                            std::to_string(kMaxIdempotencyKeyLength) + " bytes");
    }
    const cJSON* data = cJSON_GetObjectItemCaseSensitive(object, "data");
    if (data == nullptr) return make_error("missing_field", "field \"data\" is required");
    request.room = std::move(*room);
    request.event = std::move(*event);
    request.id = id->value_or("");
    request.data = data_text(line, data);
    return ok_status();
}

namespace {

constexpr ControlOp kOps[] = {ControlOp::publish, ControlOp::rooms, ControlOp::room,
                              ControlOp::history, ControlOp::tail,  ControlOp::stats,
                              ControlOp::kick,    ControlOp::reload};

Result<ControlOp> decode_op(std::string_view name) {
    for (ControlOp op : kOps) {
        if (name == op_name(op)) return op;
    }
    return make_error("unknown_op", "unknown op \"" + std::string(name) +
                                        "\"; known: publish, rooms, room, history, tail, "
                                        "stats, kick, reload");
}

Result<std::string> decode_room(const cJSON* object) {
    auto room = require_string(object, "room");
    if (!room) return room.error();
    if (auto valid = check_room_id(*room); !valid) return valid.error();
    return std::move(*room);
}

Result<std::optional<uint64_t>> decode_count(const cJSON* object, const char* key) {
    auto value = get_integer(object, key);
    if (!value) return value.error();
    if (!value->has_value()) return std::optional<uint64_t>();
    if (**value < 0) {
        return make_error("wrong_type", std::string("field \"") + key + "\" must not be negative");
    }
    return std::optional<uint64_t>(static_cast<uint64_t>(**value));
}

Status decode_tail_rooms(const cJSON* object, ControlRequest& request) {
    const cJSON* list = cJSON_GetObjectItemCaseSensitive(object, "rooms");
    if (list == nullptr) {
        auto room = decode_room(object);
        if (!room) return room.error();
        request.rooms.push_back(std::move(*room));
        return ok_status();
    }
    if (!cJSON_IsArray(list)) return make_error("wrong_type", "field \"rooms\" must be an array");
    const cJSON* entry = nullptr;
    cJSON_ArrayForEach(entry, list) {
        if (!cJSON_IsString(entry)) {
            return make_error("wrong_type", "field \"rooms\" must hold strings");
        }
        if (auto valid = check_room_id(entry->valuestring); !valid) return valid.error();
        request.rooms.emplace_back(entry->valuestring);
    }
    if (request.rooms.empty() || request.rooms.size() > kMaxTailRooms) {
        return make_error("bad_request",
                          "tail follows 1 to " + std::to_string(kMaxTailRooms) + " rooms");
    }
    return ok_status();
}

// rooms, room: {"cluster":true} asks for every node's members (a shared broker only).
Status decode_cluster(const cJSON* object, ControlRequest& request) {
    const cJSON* cluster = cJSON_GetObjectItemCaseSensitive(object, "cluster");
    if (cluster == nullptr) return ok_status();
    if (!cJSON_IsBool(cluster))
        return make_error("wrong_type", "field \"cluster\" must be a boolean");
    request.cluster = cJSON_IsTrue(cluster);
    return ok_status();
}

Status decode_fields(const cJSON* object, std::string_view line, ControlRequest& request) {
    switch (request.op) {
        case ControlOp::publish:
            return decode_publish_fields(object, line, request);
        case ControlOp::rooms:
            return decode_cluster(object, request);
        case ControlOp::stats: {
            auto format = get_string(object, "format");
            if (!format) return format.error();
            std::string name = format->value_or("json");
            if (name != "json" && name != "prometheus") {
                return make_error("bad_request", "format must be \"json\" or \"prometheus\"");
            }
            request.prometheus = name == "prometheus";
            return ok_status();
        }
        case ControlOp::room:
        case ControlOp::history:
        case ControlOp::kick: {
            auto room = decode_room(object);
            if (!room) return room.error();
            request.room = std::move(*room);
            if (request.op == ControlOp::room) {
                if (auto cluster = decode_cluster(object, request); !cluster) return cluster;
            }
            break;
        }
        case ControlOp::tail:
            if (auto rooms = decode_tail_rooms(object, request); !rooms) return rooms;
            break;
        case ControlOp::reload:
            return ok_status();
    }
    auto since = decode_count(object, "since");
    if (!since) return since.error();
    request.since = *since;
    auto limit = decode_count(object, "limit");
    if (!limit) return limit.error();
    request.limit = *limit;
    if (request.op == ControlOp::kick) {
        auto member = require_integer(object, "member");
        if (!member) return member.error();
        if (*member <= 0) return make_error("wrong_type", "field \"member\" must be positive");
        request.member = static_cast<uint64_t>(*member);
    }
    return ok_status();
}

// The plain publish line without a cJSON tree, anything else with one.
Result<ControlRequest> decode_either_way(std::string_view line) {
    if (auto request = scan_publish(line)) return std::move(*request);
    return decode_request_with_cjson(line);
}

JsonPtr ok_object() {
    JsonPtr object = make_object();
    set_bool(object.get(), "ok", true);
    return object;
}

}  // namespace

const char* op_name(ControlOp op) {
    switch (op) {
        case ControlOp::publish:
            return "publish";
        case ControlOp::rooms:
            return "rooms";
        case ControlOp::room:
            return "room";
        case ControlOp::history:
            return "history";
        case ControlOp::tail:
            return "tail";
        case ControlOp::stats:
            return "stats";
        case ControlOp::kick:
            return "kick";
        case ControlOp::reload:
            return "reload";
    }
    return "unknown";
}

Status check_event_name(std::string_view event) {
    if (event.empty() || event.size() > kMaxEventNameLength) {
        return make_error("invalid_event", "event name must be 1 to 64 characters");
    }
    for (char c : event) {
        if (!is_event_char(c)) {
            return make_error("invalid_event", "event name may only contain A-Z a-z 0-9 . _ : -");
        }
    }
    return ok_status();
}

Result<ControlRequest> decode_request(std::string_view line) {
    Result<ControlRequest> request = decode_either_way(line);
    // A browser fails its WebSocket (1007) on a text frame that is not UTF-8, and the history
    // would replay the message to every member that resumes: one publish would keep a whole
    // room reconnecting. Checked once here, after either path, so that both answer alike.
    if (request && request->op == ControlOp::publish && !is_valid_utf8(request->data)) {
        request = check_utf8(request->data, "field \"data\"").error();
    }
    return request;  // the one return: no move of the request on the way out
}

Result<ControlRequest> decode_request_with_cjson(std::string_view line) {
    auto parsed = parse_json(line);
    if (!parsed) return parsed.error();
    const cJSON* object = parsed->get();
    if (!cJSON_IsObject(object)) {
        return make_error("bad_request", "a request must be a JSON object with an \"op\"");
    }
    auto op_name = require_string(object, "op");
    if (!op_name) return op_name.error();
    auto op = decode_op(*op_name);
    if (!op) return op.error();
    ControlRequest request;
    request.op = *op;
    if (auto decoded = decode_fields(object, line, request); !decoded) return decoded.error();
    return request;
}

std::string encode_error_response(const Error& error) {
    JsonPtr object = make_object();
    set_bool(object.get(), "ok", false);
    JsonPtr detail = make_object();
    set_string(detail.get(), "code", error.code);
    set_string(detail.get(), "message", error.message);
    set_json(object.get(), "error", std::move(detail));
    return to_json(object.get());
}

ControlResponse ControlResponse::failure(const Error& error) {
    return {false, encode_error_response(error)};
}

ControlResponse ControlResponse::parsed(std::string line) {
    bool ok = decode_response(line).ok();
    return {ok, std::move(line)};
}

std::string encode_reload_response(const std::vector<std::string>& applied,
                                   const std::vector<std::string>& restart_needed) {
    JsonPtr out = ok_object();
    for (auto [key, names] :
         {std::pair{"applied", &applied}, {"restart_needed", &restart_needed}}) {
        JsonPtr list = make_array();
        for (const std::string& name : *names) {
            cJSON_AddItemToArray(list.get(), cJSON_CreateString(name.c_str()));
        }
        set_json(out.get(), key, std::move(list));
    }
    return to_json(out.get());
}

std::string encode_publish_response(const PublishAck& ack) {
    // One per publish, on the sidecar's event loop: written directly rather than through a
    // cJSON tree, whose number printing (sprintf, then sscanf to check) was ~13 % of the loop's
    // time in the 1,000-room benchmark. Same bytes as the tree printed for any seq below 10^15;
    // above, cJSON printed an exponent form that lost digits, this the exact integer.
    char digits[24];
    std::string out = "{\"ok\":true,\"seq\":";
    out.append(digits, std::to_chars(digits, digits + sizeof digits, ack.seq).ptr);
    out += ",\"delivered\":";
    out.append(digits, std::to_chars(digits, digits + sizeof digits, ack.delivered).ptr);
    if (ack.duplicate) out += ",\"duplicate\":true";
    out += '}';
    return out;
}

std::string encode_rooms_response(const std::vector<RoomSummary>& rooms) {
    JsonPtr object = ok_object();
    JsonPtr list = make_array();
    for (const RoomSummary& room : rooms) {
        JsonPtr entry = make_object();
        set_string(entry.get(), "room", room.room);
        set_number(entry.get(), "members", static_cast<double>(room.members));
        set_number(entry.get(), "seq", static_cast<double>(room.seq));
        set_number(entry.get(), "retained", static_cast<double>(room.retained));
        cJSON_AddItemToArray(list.get(), entry.release());
    }
    set_json(object.get(), "rooms", std::move(list));
    return to_json(object.get());
}

namespace {

// The publish line with `data_text` (one line of JSON) spliced in last, where cJSON would have
// printed the value: the same bytes as printing the whole object.
std::string publish_line(std::string_view room, std::string_view event, std::string_view data_text,
                         std::string_view id) {
    JsonPtr head = make_object();
    set_string(head.get(), "op", "publish");
    set_string(head.get(), "room", room);
    set_string(head.get(), "event", event);
    if (!id.empty()) set_string(head.get(), "id", id);
    std::string line = to_json(head.get());
    line.pop_back();  // the closing brace
    line += ",\"data\":";
    line += data_text;
    line += '}';
    return line;
}

}  // namespace

std::string encode_publish_request(std::string_view room, std::string_view event, const cJSON* data,
                                   std::string_view id) {
    return publish_line(room, event, data ? to_json(data) : std::string("null"), id);
}

Result<std::string> encode_publish_request_text(std::string_view room, std::string_view event,
                                                std::string_view data, std::string_view id) {
    std::string_view text = trim_json_space(data);
    std::string printed;
    // A raw line break, legal between tokens, would end the request's line early.
    if (!is_verbatim_json(text) || text.find_first_of("\r\n") != std::string_view::npos) {
        auto parsed = parse_json(data);
        if (!parsed) return parsed.error();
        printed = to_json(parsed->get());
        text = printed;
    }
    // The sidecar would refuse it: said here, where the sender can still see its input.
    if (auto valid = check_utf8(text, "the data"); !valid) return valid.error();
    return publish_line(room, event, text, id);
}

std::string encode_request(ControlOp op, const cJSON* fields) {
    JsonPtr object = fields ? clone_json(fields) : make_object();
    cJSON_DeleteItemFromObjectCaseSensitive(object.get(), "op");
    JsonPtr with_op = make_object();
    set_string(with_op.get(), "op", op_name(op));
    const cJSON* field = nullptr;
    cJSON_ArrayForEach(field, object.get()) {
        set_json(with_op.get(), field->string, clone_json(field));
    }
    return to_json(with_op.get());
}

Result<JsonPtr> decode_response(std::string_view line) {
    auto parsed = parse_json(line);
    if (!parsed || !cJSON_IsObject(parsed->get())) {
        return make_error("bad_response",
                          "the peer did not answer with a control response "
                          "(is this the sidecar's control socket?)");
    }
    const cJSON* ok = cJSON_GetObjectItemCaseSensitive(parsed->get(), "ok");
    if (!cJSON_IsBool(ok)) {
        return make_error("bad_response", "the response has no boolean \"ok\"");
    }
    if (cJSON_IsTrue(ok)) return std::move(*parsed);
    const cJSON* error = cJSON_GetObjectItemCaseSensitive(parsed->get(), "error");
    auto code = get_string(error, "code");
    auto message = get_string(error, "message");
    return make_error(code && code->has_value() ? **code : "error",
                      message && message->has_value() ? **message : "the sidecar refused");
}

Result<PublishAck> decode_publish_response(const cJSON* response) {
    auto seq = require_integer(response, "seq");
    if (!seq) return seq.error();
    auto delivered = require_integer(response, "delivered");
    if (!delivered) return delivered.error();
    const cJSON* duplicate = cJSON_GetObjectItemCaseSensitive(response, "duplicate");
    return PublishAck{static_cast<uint64_t>(*seq), static_cast<uint64_t>(*delivered),
                      cJSON_IsTrue(duplicate) != 0};
}

Result<std::vector<RoomSummary>> decode_rooms_response(const cJSON* response) {
    const cJSON* list = cJSON_GetObjectItemCaseSensitive(response, "rooms");
    if (!cJSON_IsArray(list)) return make_error("bad_response", "\"rooms\" is not an array");
    std::vector<RoomSummary> rooms;
    const cJSON* entry = nullptr;
    cJSON_ArrayForEach(entry, list) {
        auto room = require_string(entry, "room");
        auto members = require_integer(entry, "members");
        auto seq = require_integer(entry, "seq");
        auto retained = require_integer(entry, "retained");
        if (!room || !members || !seq || !retained) {
            return make_error("bad_response", "a room entry is missing a field");
        }
        rooms.push_back(RoomSummary{*room, static_cast<uint64_t>(*members),
                                    static_cast<uint64_t>(*seq), static_cast<uint64_t>(*retained)});
    }
    return rooms;
}

}  // namespace rp

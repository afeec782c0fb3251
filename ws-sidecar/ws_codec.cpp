#include "ws_codec.h"

#include "roompush/utf8.h"

#include <charconv>
#include <cstdio>

#include "roompush/room_id.h"

namespace rp::sidecar {

namespace {

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    out += '"';
}

void append_number(std::string& out, uint64_t value) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out.append(digits, end);
}

}  // namespace

// Every publish goes through here once, so the envelope is written straight into one string
// (the same bytes, in the same key order, as the cJSON tree it replaced, which cloned `data`,
// allocated a node per field and printed each number with sprintf and sscanf). `data` is the
// publisher's JSON text, checked by cJSON when it arrived, and not printed again.
std::string encode_message(const MessageFields& fields) {
    std::string out;
    out.reserve(104 + fields.room.size() + fields.epoch.size() + fields.event.size() +
                fields.data.size() + fields.from.size());
    out += "{\"type\":\"message\",\"room\":";
    append_json_string(out, fields.room);
    out += ",\"seq\":";
    append_number(out, fields.seq);
    out += ",\"epoch\":";
    append_json_string(out, fields.epoch);
    out += ",\"event\":";
    append_json_string(out, fields.event);
    out += ",\"data\":";
    out += fields.data;
    if (!fields.from.empty()) {
        out += ",\"from\":";
        out += fields.from;
    }
    out += ",\"ts\":";
    if (fields.ts_ms < 0) {
        out += '-';
        append_number(out, static_cast<uint64_t>(-fields.ts_ms));
    } else {
        append_number(out, static_cast<uint64_t>(fields.ts_ms));
    }
    out += '}';
    return out;
}

std::string encode_subscribed(std::string_view room, uint64_t head_seq, std::string_view epoch) {
    JsonPtr object = make_object();
    set_string(object.get(), "type", "subscribed");
    set_string(object.get(), "room", room);
    set_number(object.get(), "seq", static_cast<double>(head_seq));
    set_string(object.get(), "epoch", epoch);
    return to_json(object.get());
}

std::string encode_unsubscribed(std::string_view room) {
    JsonPtr object = make_object();
    set_string(object.get(), "type", "unsubscribed");
    set_string(object.get(), "room", room);
    return to_json(object.get());
}

std::string encode_reset(std::string_view room, std::string_view epoch) {
    JsonPtr object = make_object();
    set_string(object.get(), "type", "reset");
    set_string(object.get(), "room", room);
    set_string(object.get(), "epoch", epoch);
    return to_json(object.get());
}

std::string encode_pong() { return R"({"type":"pong"})"; }

std::string encode_ws_error(const Error& error, std::string_view room, std::string_view id) {
    JsonPtr object = make_object();
    set_string(object.get(), "type", "error");
    set_string(object.get(), "code", error.code);
    set_string(object.get(), "message", error.message);
    if (!room.empty()) set_string(object.get(), "room", room);
    if (!id.empty()) set_string(object.get(), "id", id);
    return to_json(object.get());
}

std::string encode_presence_change(std::string_view type, std::string_view room,
                                   std::string_view member) {
    std::string out = "{\"type\":";
    append_json_string(out, type);
    out += ",\"room\":";
    append_json_string(out, room);
    out += ",\"member\":";
    out += member;
    out += '}';
    return out;
}

std::string encode_presence(std::string_view room, const std::vector<std::string_view>& members,
                            std::size_t count) {
    std::string out = "{\"type\":\"presence\",\"room\":";
    append_json_string(out, room);
    out += ",\"count\":";
    append_number(out, count);
    out += ",\"members\":[";
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += ',';
        out += members[i];
    }
    out += "]}";
    return out;
}

std::string encode_presence_count(std::string_view room, std::size_t count) {
    std::string out = "{\"type\":\"presence_count\",\"room\":";
    append_json_string(out, room);
    out += ",\"count\":";
    append_number(out, count);
    out += '}';
    return out;
}

std::string encode_published(std::string_view room, std::string_view id, const PublishAck& ack) {
    JsonPtr object = make_object();
    set_string(object.get(), "type", "published");
    set_string(object.get(), "room", room);
    set_number(object.get(), "seq", static_cast<double>(ack.seq));
    if (!id.empty()) set_string(object.get(), "id", id);
    if (ack.duplicate) set_bool(object.get(), "duplicate", true);
    return to_json(object.get());
}

Result<ClientCommand> decode_client_command(std::string_view text) {
    auto parsed = parse_json(text);
    if (!parsed) return parsed.error();
    const cJSON* object = parsed->get();
    if (!cJSON_IsObject(object)) {
        return make_error("bad_request", "a command must be a JSON object with an \"op\"");
    }
    auto op = require_string(object, "op");
    if (!op) return op.error();
    ClientCommand command;
    if (*op == "subscribe") {
        command.op = ClientCommand::Op::subscribe;
    } else if (*op == "unsubscribe") {
        command.op = ClientCommand::Op::unsubscribe;
    } else if (*op == "publish") {
        command.op = ClientCommand::Op::publish;
        if (auto fields = decode_publish_fields(object, text, command.publish); !fields) {
            return fields.error();
        }
        command.room = command.publish.room;
        return command;
    } else if (*op == "presence") {
        command.op = ClientCommand::Op::presence;
    } else if (*op == "ping") {
        command.op = ClientCommand::Op::ping;
        return command;  // names no room
    } else {
        return make_error(
            "unknown_op",
            "unknown op \"" + *op + "\"; use subscribe, unsubscribe, publish, presence or ping");
    }
    auto room = require_string(object, "room");
    if (!room) return room.error();
    if (auto valid = check_room_id(*room); !valid) return valid.error();
    command.room = std::move(*room);
    auto since = get_integer(object, "since");
    if (!since) return since.error();
    if (since->has_value()) {
        if (**since < 0) return make_error("wrong_type", "field \"since\" must not be negative");
        command.since = static_cast<uint64_t>(**since);
    }
    auto epoch = get_string(object, "epoch");
    if (!epoch) return epoch.error();
    command.epoch = epoch->value_or("");
    auto token = get_string(object, "token");
    if (!token) return token.error();
    command.token = token->value_or("");
    return command;
}

namespace {

Result<uint64_t> parse_seq(std::string_view text) {
    if (text.empty() || text.size() > 19) {
        return make_error("bad_since", "since must be a sequence number");
    }
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return make_error("bad_since", "since must be a sequence number");
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
}

// `code` names the failure for the client: a token that cannot be one is token_malformed, as
// the token rules would call it.
Status check_token_chars(std::string_view text, const char* what, const char* code) {
    for (char c : text) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~';
        if (!ok)
            return make_error(code,
                              std::string(what) + " has a character outside A-Z a-z 0-9 - _ . ~");
    }
    return ok_status();
}

}  // namespace

bool is_valid_close_payload(std::string_view payload) {
    if (payload.empty()) return true;
    if (payload.size() < 2) return false;
    unsigned code =
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
    bool known = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
    bool application = code >= 3000 && code <= 4999;
    return (known || application) && is_valid_utf8(payload.substr(2));
}

Result<WsQuery> parse_ws_query(std::string_view query) {
    if (query.size() > kMaxWsQueryBytes) {
        return make_error("bad_request", "the URL's query is longer than " +
                                             std::to_string(kMaxWsQueryBytes) + " bytes");
    }
    if (query.find('\0') != std::string_view::npos) {
        return make_error("bad_request", "the URL's query holds a NUL byte");
    }
    WsQuery out;
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        std::size_t equals = pair.find('=');
        std::string_view key = pair.substr(0, equals);
        std::string_view value = equals == std::string_view::npos ? "" : pair.substr(equals + 1);
        if (key == "since") {
            auto since = parse_seq(value);
            if (!since) return since.error();
            out.since = *since;
        } else if (key == "epoch") {
            if (auto valid = check_token_chars(value, "epoch", "bad_request"); !valid)
                return valid.error();
            out.epoch = std::string(value);
        } else if (key == "token") {
            if (auto valid = check_token_chars(value, "room token", "token_malformed"); !valid) {
                return valid.error();
            }
            out.token = std::string(value);
        }
    }
    return out;
}

Result<WsTarget> parse_ws_path(std::string_view path) {
    constexpr std::string_view kRoomPrefix = "/ws/rooms/";
    if (path == "/ws" || path == "/ws/") return WsTarget{WsTarget::Kind::commands, {}};
    if (path.substr(0, kRoomPrefix.size()) == kRoomPrefix) {
        std::string_view room = path.substr(kRoomPrefix.size());
        if (auto valid = check_room_id(room); !valid) return valid.error();
        return WsTarget{WsTarget::Kind::room, std::string(room)};
    }
    return make_error("not_found", "no WebSocket endpoint at " + std::string(path) +
                                       "; use /ws/rooms/ROOM or /ws");
}

}  // namespace rp::sidecar

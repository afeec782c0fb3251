#include "sse_stream.h"

#include <algorithm>

#include "roompush/room_id.h"
#include "ws_codec.h"

namespace rp::sidecar {
namespace {

constexpr std::string_view kRoomPrefix = "/sse/rooms/";

Error bad_request(std::string message) { return make_error("bad_request", std::move(message)); }

// The value of `key` in a query, or nullopt.
std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        std::size_t equals = pair.find('=');
        if (pair.substr(0, equals) == key) {
            return equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
        }
    }
    return std::nullopt;
}

Result<std::vector<std::string>> rooms_of(std::string_view path, std::string_view query,
                                          std::size_t max_rooms) {
    std::vector<std::string> rooms;
    if (path.starts_with(kRoomPrefix)) {
        std::string_view room = path.substr(kRoomPrefix.size());
        if (auto valid = check_room_id(room); !valid) return valid.error();
        rooms.emplace_back(room);
        return rooms;
    }
    auto list = query_value(query, "rooms");
    if (!list || list->empty()) return bad_request("/sse needs rooms=A,B (or use /sse/rooms/ROOM)");
    while (!list->empty()) {
        std::size_t comma = list->find(',');
        std::string_view room = list->substr(0, comma);
        *list = comma == std::string_view::npos ? std::string_view() : list->substr(comma + 1);
        if (auto valid = check_room_id(room); !valid) return valid.error();
        rooms.emplace_back(room);
        if (rooms.size() > max_rooms) {
            return make_error("too_many_rooms", "a stream may follow at most " +
                                                    std::to_string(max_rooms) + " rooms");
        }
    }
    return rooms;
}

// "EPOCH:SEQ"
Result<JoinRequest> position_of(std::string_view text) {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return bad_request("Last-Event-ID must be EPOCH:SEQ (as the stream sent it)");
    }
    auto query = parse_ws_query("since=" + std::string(text.substr(colon + 1)) +
                                "&epoch=" + std::string(text.substr(0, colon)));
    if (!query || !query->since) return bad_request("Last-Event-ID holds a bad EPOCH:SEQ");
    return JoinRequest{query->since, query->epoch, false};
}

// Single room: "EPOCH:SEQ". Several: "ROOM=EPOCH:SEQ ROOM=EPOCH:SEQ …" (room ids hold no '='
// and no space).
Status read_last_event_id(std::string_view id, SseRequest& request) {
    if (id.size() > kMaxLastEventIdBytes) return bad_request("Last-Event-ID is too long");
    if (!request.multi) {
        auto position = position_of(id);
        if (!position) return position.error();
        request.resume[request.rooms.front()] = *position;
        return ok_status();
    }
    while (!id.empty()) {
        std::size_t space = id.find(' ');
        std::string_view entry = id.substr(0, space);
        id = space == std::string_view::npos ? std::string_view() : id.substr(space + 1);
        std::size_t equals = entry.find('=');
        if (equals == std::string_view::npos) return bad_request("Last-Event-ID: ROOM=EPOCH:SEQ");
        std::string room(entry.substr(0, equals));
        auto position = position_of(entry.substr(equals + 1));
        if (!position) return position.error();
        request.resume[room] = *position;  // a room no longer asked for is ignored below
    }
    return ok_status();
}

struct FrameHead {
    std::string_view room;
    uint64_t seq = 0;
    std::string_view epoch;
    bool subscribed = false;
};

// The room, seq and epoch at the head of a `message` or `subscribed` frame, which both begin
// {"type":T,"room":R,"seq":N,"epoch":E (ws_codec.cpp writes them so; room ids and epochs hold
// no quote or backslash). Read in place: a stream pays no JSON parse per event.
std::optional<FrameHead> position_of_frame(std::string_view frame) {
    for (std::string_view type : {std::string_view(R"({"type":"message","room":")"),
                                  std::string_view(R"({"type":"subscribed","room":")")}) {
        if (!frame.starts_with(type)) continue;
        std::string_view rest = frame.substr(type.size());
        FrameHead head;
        head.subscribed = type.find("subscribed") != std::string_view::npos;
        std::size_t quote = rest.find('"');
        if (quote == std::string_view::npos) return std::nullopt;
        head.room = rest.substr(0, quote);
        rest.remove_prefix(quote);
        if (!rest.starts_with(R"(","seq":)")) return std::nullopt;
        rest.remove_prefix(8);
        std::size_t digits = 0;
        while (digits < rest.size() && digits < 20 && rest[digits] >= '0' && rest[digits] <= '9') {
            head.seq = head.seq * 10 + static_cast<uint64_t>(rest[digits] - '0');
            ++digits;
        }
        rest.remove_prefix(digits);
        if (digits == 0 || !rest.starts_with(R"(,"epoch":")")) return std::nullopt;
        rest.remove_prefix(10);
        quote = rest.find('"');
        if (quote == std::string_view::npos) return std::nullopt;
        head.epoch = rest.substr(0, quote);
        return head;
    }
    return std::nullopt;
}

}  // namespace

bool is_sse_path(std::string_view path) { return path == "/sse" || path.starts_with(kRoomPrefix); }

Result<SseRequest> parse_sse_request(std::string_view path, std::string_view query,
                                     std::string_view last_event_id, std::size_t max_rooms) {
    auto resume = parse_ws_query(query);  // since, epoch, token; limits and characters checked
    if (!resume) return resume.error();
    SseRequest request;
    auto rooms = rooms_of(path, query, max_rooms);
    if (!rooms) return rooms.error();
    request.rooms = std::move(*rooms);
    request.multi = !path.starts_with(kRoomPrefix);
    request.token = resume->token;
    if (!request.multi && resume->since) {
        request.resume[request.rooms.front()] = JoinRequest{resume->since, resume->epoch, false};
    }
    if (!last_event_id.empty()) {
        if (auto read = read_last_event_id(last_event_id, request); !read) return read.error();
    }
    std::erase_if(request.resume, [&](const auto& entry) {
        return std::find(request.rooms.begin(), request.rooms.end(), entry.first) ==
               request.rooms.end();
    });
    return request;
}

void SseStream::start_at(const std::string& room, const JoinRequest& resume) {
    if (resume.since) positions_[room] = Position{resume.epoch, *resume.since};
}

std::string SseStream::id() const {
    if (!multi_) {
        const Position& only = positions_.begin()->second;
        return only.epoch + ":" + std::to_string(only.seq);
    }
    std::string out;
    for (const auto& [room, position] : positions_) {
        if (!out.empty()) out += ' ';
        out += room + "=" + position.epoch + ":" + std::to_string(position.seq);
    }
    return out;
}

std::string SseStream::event(std::string_view frame_json) {
    std::string out;
    out.reserve(frame_json.size() + 64);
    if (auto head = position_of_frame(frame_json)) {
        auto [at, fresh] = positions_.try_emplace(std::string(head->room));
        if (fresh || !head->subscribed) {
            at->second = Position{std::string(head->epoch), head->seq};
            out += "id: " + id() + "\n";
        }
    }
    out += "data: ";
    for (char c : frame_json) {
        if (c == '\n') {
            out += "\ndata: ";
        } else if (c != '\r') {
            out += c;
        }
    }
    out += "\n\n";
    return out;
}

}  // namespace rp::sidecar

#include "publish_scan.h"

#include "json_scan.h"
#include "roompush/room_id.h"

// Decoding a publish through cJSON built a tree of the whole line (an allocation per value and
// per string), looked the fields up by name, freed it all again and then scanned the line once
// more for the data's text: about a fifth of the sidecar's time in the benchmark of 1,000 rooms
// of one subscriber each. This reads the same fields straight from the text, in one pass. The
// JSON is json_scan's (the scanner find_member_text uses), the field rules are decode_publish's
// own (is_valid_room_id, check_event_name, the id's limit), and whatever is not the one plain
// shape is left to decode_request_with_cjson, errors and their messages included.

namespace rp {
namespace {

// The members decode_publish reads, as the text of their values.
struct PublishMembers {
    std::optional<std::string_view> op, room, event, id, data;
};

std::optional<std::string_view>* slot_for(PublishMembers& members, std::string_view key) {
    if (key == "op") return &members.op;
    if (key == "room") return &members.room;
    if (key == "event") return &members.event;
    if (key == "id") return &members.id;
    if (key == "data") return &members.data;
    return nullptr;
}

// Whether the member may stand in a plain publish. A second `room` (or op, ...) is not plain:
// cJSON would take the first, and saying so is all that declining it costs. Any op but publish
// ends the scan at once: those requests are cJSON's.
bool take(PublishMembers& members, const json_scan::Member& member) {
    std::optional<std::string_view>* slot = slot_for(members, member.key);
    if (slot == nullptr) return true;  // decode_publish ignores it; the scan checked its JSON
    if (slot->has_value()) return false;
    *slot = member.value;
    return slot != &members.op || member.value == "\"publish\"";
}

// The characters of a string value written without escapes, as cJSON's valuestring has them.
std::optional<std::string_view> plain_string(std::optional<std::string_view> value) {
    if (!value || value->size() < 2 || value->front() != '"') return std::nullopt;
    std::string_view text = value->substr(1, value->size() - 2);
    if (text.find('\\') != std::string_view::npos) return std::nullopt;
    return text;
}

// decode_publish's rules, as yes or no: its errors and their messages are cJSON's path to give.
std::optional<ControlRequest> publish_request(const PublishMembers& members) {
    auto room = plain_string(members.room);
    if (!room || !is_valid_room_id(*room)) return std::nullopt;
    auto event = plain_string(members.event);
    if (!event || !check_event_name(*event).ok()) return std::nullopt;
    auto id = members.id ? plain_string(members.id) : std::string_view();
    if (!id || id->size() > kMaxIdempotencyKeyLength) return std::nullopt;
    if (!members.op || !members.data) return std::nullopt;
    ControlRequest request;
    request.op = ControlOp::publish;
    request.room = *room;
    request.event = *event;
    request.id = *id;
    request.data = *members.data;  // the text find_member_text would find: the first `data`
    return request;
}

}  // namespace

std::optional<ControlRequest> scan_publish(std::string_view line) {
    json_scan::Scanner scan(line, json_scan::kInsteadOfCJson);
    json_scan::MemberReader reader(scan, scan.skip_space(0));
    PublishMembers members;
    while (auto member = reader.next()) {
        if (!take(members, *member)) return std::nullopt;
    }
    // The whole line, as parse_json has it: the object, then whitespace only.
    if (reader.end() == json_scan::kUnsure || scan.skip_space(reader.end()) != line.size()) {
        return std::nullopt;
    }
    return publish_request(members);
}

}  // namespace rp

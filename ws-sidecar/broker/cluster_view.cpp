#include "cluster_view.h"

#include <algorithm>
#include <map>

#include "roompush/control_codec.h"
#include "roompush/json.h"
#include "ws_codec.h"

namespace rp::sidecar {
namespace {

double number_of(const cJSON* object, const char* key) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}

std::string string_of(const cJSON* object, const char* key) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : "";
}

// Calls `visit(node, room_object)` for every room of every report that parses; a report that
// does not (another version, garbage in Redis) is skipped.
template <class Visit>
void for_each_room(const std::vector<std::string>& reports, Visit visit) {
    for (const std::string& text : reports) {
        auto report = parse_json(text);
        if (!report || !cJSON_IsObject(report->get())) continue;
        std::string node = string_of(report->get(), "node");
        const cJSON* rooms = cJSON_GetObjectItemCaseSensitive(report->get(), "rooms");
        if (!cJSON_IsArray(rooms)) continue;
        const cJSON* room = nullptr;
        cJSON_ArrayForEach(room, rooms) {
            if (cJSON_IsObject(room)) visit(node, room);
        }
    }
}

}  // namespace

JsonPtr member_entry(const std::string& room, const MemberInfo& member,
                     const RoomPresence* presence) {
    JsonPtr entry = make_object();
    set_number(entry.get(), "id", static_cast<double>(member.id));
    set_string(entry.get(), "peer", member.peer);
    set_number(entry.get(), "since", static_cast<double>(member.connected_ms));
    set_number(entry.get(), "queued_bytes", static_cast<double>(member.queued_bytes));
    const std::string* seen = presence ? presence->member(room, member.id) : nullptr;
    if (auto parsed = seen ? parse_json(*seen) : Result<JsonPtr>(Error{}); seen && parsed) {
        cJSON_DeleteItemFromObjectCaseSensitive(parsed->get(), "conn");  // the id says it
        set_json(entry.get(), "present", std::move(*parsed));
    }
    return entry;
}

std::string members_report(const std::string& node, const RoomRegistry& registry,
                           const RoomPresence& presence) {
    JsonPtr out = make_object();
    set_string(out.get(), "node", node);
    JsonPtr rooms = make_array();
    for (const RoomSummary& summary : registry.summaries()) {
        auto detail = registry.detail(summary.room);
        if (!detail || detail->members.empty()) continue;
        JsonPtr room = make_object();
        set_string(room.get(), "room", summary.room);
        set_string(room.get(), "epoch", detail->epoch);
        set_number(room.get(), "seq", static_cast<double>(detail->seq));
        set_number(room.get(), "retained", static_cast<double>(detail->retained));
        JsonPtr members = make_array();
        for (const MemberInfo& member : detail->members) {
            cJSON_AddItemToArray(members.get(),
                                 member_entry(summary.room, member, &presence).release());
        }
        set_json(room.get(), "members", std::move(members));
        JsonPtr present = make_array();
        for (std::string_view member : presence.members(summary.room)) {
            if (auto parsed = parse_json(member)) {
                cJSON_AddItemToArray(present.get(), cJSON_Duplicate(parsed->get(), true));
            }
        }
        if (cJSON_GetArraySize(present.get()) > 0)
            set_json(room.get(), "present", std::move(present));
        cJSON_AddItemToArray(rooms.get(), room.release());
    }
    set_json(out.get(), "rooms", std::move(rooms));
    return to_json(out.get());
}

std::string encode_cluster_presence(const std::string& room,
                                    const std::vector<std::string>& reports, const std::string& own,
                                    const std::vector<std::string_view>& mine, std::size_t max) {
    std::vector<std::string> listed(mine.begin(), mine.begin() + std::min(max, mine.size()));
    std::size_t count = mine.size();
    for_each_room(reports, [&](const std::string& node, const cJSON* entry) {
        if (node == own || string_of(entry, "room") != room) return;
        const cJSON* present = cJSON_GetObjectItemCaseSensitive(entry, "present");
        const cJSON* member = nullptr;
        cJSON_ArrayForEach(member, present) {
            if (!cJSON_IsObject(member)) continue;
            ++count;
            if (listed.size() < max) listed.push_back(to_json(member));
        }
    });
    std::vector<std::string_view> views(listed.begin(), listed.end());
    return encode_presence(room, views, count);
}

std::string encode_cluster_rooms(const std::vector<std::string>& reports) {
    struct Merged {
        double members = 0, seq = 0, retained = 0, nodes = 0;
    };
    std::map<std::string, Merged> merged;
    for_each_room(reports, [&](const std::string&, const cJSON* room) {
        Merged& entry = merged[string_of(room, "room")];
        const cJSON* members = cJSON_GetObjectItemCaseSensitive(room, "members");
        entry.members += cJSON_IsArray(members) ? cJSON_GetArraySize(members) : 0;
        entry.seq = std::max(entry.seq, number_of(room, "seq"));
        entry.retained = std::max(entry.retained, number_of(room, "retained"));
        entry.nodes += 1;
    });
    JsonPtr out = make_object();
    set_bool(out.get(), "ok", true);
    set_bool(out.get(), "cluster", true);
    set_number(out.get(), "nodes", static_cast<double>(reports.size()));
    JsonPtr rooms = make_array();
    for (const auto& [name, entry] : merged) {
        if (name.empty()) continue;
        JsonPtr room = make_object();
        set_string(room.get(), "room", name);
        set_number(room.get(), "members", entry.members);
        set_number(room.get(), "seq", entry.seq);
        set_number(room.get(), "retained", entry.retained);
        set_number(room.get(), "nodes", entry.nodes);
        cJSON_AddItemToArray(rooms.get(), room.release());
    }
    set_json(out.get(), "rooms", std::move(rooms));
    return to_json(out.get());
}

std::string encode_cluster_room(const std::string& room, const std::vector<std::string>& reports) {
    JsonPtr members = make_array();
    std::string epoch;
    double seq = 0;
    double retained = 0;
    bool found = false;
    for_each_room(reports, [&](const std::string& node, const cJSON* entry) {
        if (string_of(entry, "room") != room) return;
        found = true;
        if (number_of(entry, "seq") >= seq) epoch = string_of(entry, "epoch");
        seq = std::max(seq, number_of(entry, "seq"));
        retained = std::max(retained, number_of(entry, "retained"));
        const cJSON* list = cJSON_GetObjectItemCaseSensitive(entry, "members");
        const cJSON* member = nullptr;
        cJSON_ArrayForEach(member, list) {
            JsonPtr copy = clone_json(member);
            if (!cJSON_IsObject(copy.get())) continue;
            set_string(copy.get(), "node", node);
            cJSON_AddItemToArray(members.get(), copy.release());
        }
    });
    if (!found) {
        return encode_error_response(
            make_error("not_found", "no room " + room + " has members on any node"));
    }
    JsonPtr out = make_object();
    set_bool(out.get(), "ok", true);
    set_bool(out.get(), "cluster", true);
    set_string(out.get(), "room", room);
    set_string(out.get(), "epoch", epoch);
    set_number(out.get(), "seq", seq);
    set_number(out.get(), "retained", retained);
    set_json(out.get(), "members", std::move(members));
    return to_json(out.get());
}

}  // namespace rp::sidecar

#include "redis_replies.h"

#include "redis_wire.h"
#include "roompush/redis_connection.h"

namespace rp::sidecar {

Result<BrokerEntry> parse_entry(const redisReply* reply) {
    const redisReply* id = element(reply, 0);
    const redisReply* fields = element(reply, 1);
    if (!is_string(id) || !is_array(fields) || size_of(fields) % 2 != 0)
        return bad_reply("an entry");
    auto seq = seq_of_stream_id(string_of(id));
    if (!seq) return bad_reply("an entry id");
    BrokerEntry entry{*seq, 0, "", ""};
    bool has_ts = false;
    for (std::size_t i = 0; i + 1 < size_of(fields); i += 2) {
        const redisReply* key = element(fields, i);
        const redisReply* value = element(fields, i + 1);
        if (!is_string(key) || !is_string(value)) return bad_reply("entry fields");
        std::string name = string_of(key);
        if (name == "e") entry.event = string_of(value);
        if (name == "d") entry.data = string_of(value);
        if (name == "f") entry.from = string_of(value);
        if (name == "t") {
            auto ts = parse_i64(string_of(value));
            if (!ts) return bad_reply("an entry's ts");
            entry.ts_ms = *ts;
            has_ts = true;
        }
    }
    if (!has_ts || entry.data.empty() || !check_event_name(entry.event)) {
        return bad_reply("an entry's fields");
    }
    return entry;
}

// {epoch, head, entries}
Result<RoomSnapshot> parse_snapshot(const std::string& room, const redisReply* reply) {
    const redisReply* epoch = element(reply, 0);
    const redisReply* head = element(reply, 1);
    const redisReply* entries = element(reply, 2);
    if (!is_string(epoch) || !is_integer(head) || !is_array(entries) || integer_of(head) < 0) {
        return bad_reply("a room fetch");
    }
    RoomSnapshot snapshot{
        room, string_of(epoch), static_cast<uint64_t>(integer_of(head)), {}, false, 0};
    if (!is_valid_epoch(snapshot.epoch)) return bad_reply("a room's epoch");
    // One bad entry (written by something else than a sidecar) must not wedge the room: it is
    // skipped and counted, and the room's members see a gap in seq like any lost message.
    for (std::size_t i = 0; i < size_of(entries); ++i) {
        auto entry = parse_entry(element(entries, i));
        if (!entry || entry->seq > snapshot.head) {
            ++snapshot.bad_entries;
            continue;
        }
        snapshot.entries.push_back(std::move(*entry));
    }
    return snapshot;
}

}  // namespace rp::sidecar

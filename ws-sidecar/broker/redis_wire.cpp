#include "redis_wire.h"

#include "roompush/json_text.h"

#include <array>
#include <charconv>

#include "roompush/control_codec.h"
#include "roompush/room_id.h"

namespace rp::sidecar {
namespace {

constexpr std::size_t kHeaderFields = 6;  // version, room, epoch, seq, ts, event

Error bad_payload(const std::string& why) {
    return make_error("bad_broker_message", "a pub/sub message from Redis was refused: " + why);
}

}  // namespace

namespace {

// A decimal number and nothing else around it.
template <class Integer>
std::optional<Integer> parse_decimal(std::string_view text) {
    Integer value = 0;
    if (text.empty() || text.size() > 20) return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<uint64_t> parse_u64(std::string_view text) { return parse_decimal<uint64_t>(text); }

std::optional<int64_t> parse_i64(std::string_view text) { return parse_decimal<int64_t>(text); }

std::optional<uint64_t> seq_of_stream_id(std::string_view id) {
    std::size_t dash = id.find('-');
    if (dash == std::string_view::npos || id.substr(dash + 1) != "0") return std::nullopt;
    auto seq = parse_u64(id.substr(0, dash));
    if (!seq || *seq == 0) return std::nullopt;
    return seq;
}

bool is_valid_epoch(std::string_view epoch) {
    if (epoch.size() != 16) return false;
    for (char c : epoch) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

Result<BrokerMessage> decode_pubsub_payload(std::string_view payload) {
    std::array<std::string_view, kHeaderFields> fields;
    for (std::size_t i = 0; i < kHeaderFields; ++i) {
        std::size_t newline = payload.find('\n');
        if (newline == std::string_view::npos) return bad_payload("too few fields");
        fields[i] = payload.substr(0, newline);
        payload.remove_prefix(newline + 1);
    }
    if (fields[0] != "1" && fields[0] != "2") return bad_payload("unknown version");
    if (!is_valid_room_id(fields[1])) return bad_payload("invalid room id");
    if (!is_valid_epoch(fields[2])) return bad_payload("invalid epoch");
    auto seq = parse_u64(fields[3]);
    auto ts = parse_i64(fields[4]);
    if (!seq || *seq == 0) return bad_payload("invalid seq");
    if (!ts) return bad_payload("invalid ts");
    if (!check_event_name(fields[5])) return bad_payload("invalid event");
    std::string_view from;
    if (fields[0] == "2") {  // a browser's message: its sender before the data
        std::size_t newline = payload.find('\n');
        if (newline == std::string_view::npos || newline == 0) return bad_payload("no sender");
        from = payload.substr(0, newline);
        payload.remove_prefix(newline + 1);
    }
    if (payload.empty()) return bad_payload("no data");
    return BrokerMessage{
        std::string(fields[1]), std::string(fields[2]),
        BrokerEntry{*seq, *ts, std::string(fields[5]), std::string(payload), std::string(from)}};
}

Result<PresenceChange> decode_presence_payload(std::string_view payload) {
    std::array<std::string_view, 4> fields;
    for (std::string_view& field : fields) {
        std::size_t newline = payload.find('\n');
        if (newline == std::string_view::npos) return bad_payload("too few presence fields");
        field = payload.substr(0, newline);
        payload.remove_prefix(newline + 1);
    }
    if (fields[0] != "3") return bad_payload("unknown version");
    if (!is_valid_room_id(fields[1])) return bad_payload("invalid room id");
    if (fields[2].empty()) return bad_payload("no node");
    if (fields[3] != "join" && fields[3] != "leave") return bad_payload("unknown presence type");
    if (payload.empty() || payload.front() != '{' || payload.find('\n') != std::string_view::npos ||
        !is_verbatim_json(payload)) {
        return bad_payload("a member that is not a JSON object");
    }
    return PresenceChange{std::string(fields[1]), std::string(fields[2]), std::string(fields[3]),
                          std::string(payload)};
}

std::string encode_presence_payload(const PresenceChange& change) {
    return "3\n" + change.room + "\n" + change.node + "\n" + change.type + "\n" + change.member;
}

std::string encode_pubsub_payload(const BrokerMessage& message) {
    const BrokerEntry& entry = message.entry;
    std::string head = message.room + "\n" + message.epoch + "\n" + std::to_string(entry.seq) +
                       "\n" + std::to_string(entry.ts_ms) + "\n" + entry.event + "\n";
    if (entry.from.empty()) return "1\n" + head + entry.data;
    return "2\n" + head + entry.from + "\n" + entry.data;
}

}  // namespace rp::sidecar

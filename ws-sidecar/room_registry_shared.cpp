// The registry's shared-broker half (docs/scaling.md): rooms loaded from Redis, live messages
// delivered exactly once and in seq order, gaps filled from the room's stream.
#include "room_registry.h"
#include "roompush/json_text.h"
#include "roompush/log.h"
#include "ws_codec.h"

namespace rp::sidecar {

std::string_view sender_of(const BrokerEntry& entry) {
    if (entry.from.empty() || is_verbatim_json(entry.from)) return entry.from;
    return "{}";  // a browser's message still, though not one a sidecar wrote
}

FramePtr RoomRegistry::frame_of(const std::string& room, const std::string& epoch,
                                const BrokerEntry& entry) {
    std::string_view data = entry.data;
    if (!is_verbatim_json(data)) {
        // Stored by a sidecar as checked JSON text; anything else is not passed on as if it were.
        metrics_.broker_bad_messages++;
        log_warn("broker_bad_data").kv("room", room).kv("seq", entry.seq);
        data = "null";
    }
    return make_frame(
        encode_message({room, entry.seq, epoch, entry.event, data, entry.ts_ms, sender_of(entry)}));
}

std::vector<SessionId> RoomRegistry::apply_snapshot(const RoomSnapshot& snapshot, int64_t now_ms) {
    std::vector<SessionId> wake;
    auto in = rooms_.find(snapshot.room);
    if (in == rooms_.end()) return wake;  // its last member left while Redis answered
    Room& state = in->second;
    if (snapshot.load != !state.tracker.is_loaded()) return wake;  // a stale answer
    if (snapshot.load) {
        load(snapshot.room, state, snapshot, wake);
    } else {
        fill(snapshot.room, state, snapshot, now_ms, wake);
    }
    maybe_fill(snapshot.room, state);
    erase_if_unused(snapshot.room);
    return wake;
}

// The retained tail becomes the room's history; the joins that waited get their frames.
void RoomRegistry::load(const std::string& room, Room& state, const RoomSnapshot& snapshot,
                        std::vector<SessionId>& wake) {
    state.epoch = snapshot.epoch;
    state.seq = snapshot.head;
    for (const BrokerEntry& entry : snapshot.entries) {
        state.history.append({entry.seq, entry.ts_ms, "", frame_of(room, state.epoch, entry)});
    }
    state.tracker.loaded(snapshot.head);
    for (auto& [id, request] : state.parked) {
        Session* session = find(id);
        if (session == nullptr || !session->rooms().contains(room)) continue;
        complete_join(*session, room, state, request);
        wake.push_back(id);
    }
    state.parked.clear();
    log_debug("room_loaded")
        .kv("room", room)
        .kv("seq", state.seq)
        .kv("retained", state.history.size());
}

void RoomRegistry::fill(const std::string& room, Room& state, const RoomSnapshot& snapshot,
                        int64_t now_ms, std::vector<SessionId>& wake) {
    metrics_.broker_gap_fills++;
    if (snapshot.epoch != state.epoch) {
        // Redis lost the room (flushed, or its keys expired): its seq starts again under a new
        // epoch. The members hear it as a reset, as with a resume that cannot be complete.
        log_warn("room_epoch_changed")
            .kv("room", room)
            .kv("old", state.epoch)
            .kv("new", snapshot.epoch);
        state.epoch = snapshot.epoch;
        state.history = RoomHistory(limits_.history);
        state.seq = 0;
        state.tracker = GapTracker();
        state.tracker.loaded(snapshot.entries.empty() ? snapshot.head
                                                      : snapshot.entries.front().seq - 1);
        FramePtr reset = make_frame(encode_reset(room, state.epoch));
        for (SessionId member : state.members) {
            metrics_.resets++;
            if (send(member, reset) != SendResult::dropped) wake.push_back(member);
        }
    }
    uint64_t lost_before = state.tracker.lost();
    for (const BrokerEntry& entry : snapshot.entries) {
        if (!state.tracker.accept(entry.seq)) continue;
        deliver(room, state, frame_of(room, state.epoch, entry), entry.seq, "", now_ms, &wake,
                nullptr);
    }
    state.tracker.fill_done(snapshot.head);
    state.seq = std::max(state.seq, state.tracker.delivered());
    if (uint64_t lost = state.tracker.lost() - lost_before; lost > 0) {
        metrics_.broker_lost += lost;
        log_warn("broker_messages_lost").kv("room", room).kv("count", lost);
    }
}

std::vector<SessionId> RoomRegistry::apply_message(const BrokerMessage& message, int64_t now_ms) {
    std::vector<SessionId> wake;
    auto in = rooms_.find(message.room);
    if (in == rooms_.end()) return wake;  // no member here
    Room& state = in->second;
    if (state.tracker.is_loaded() && message.epoch != state.epoch) {
        // Redis lost the room and it began again: read the new epoch's stream from its start.
        state.tracker.suspect_gap();
        if (fetcher_ && state.tracker.start_fill()) fetcher_(message.room, 0);
        return wake;
    }
    if (state.tracker.offer(message.entry.seq) == GapTracker::Verdict::deliver) {
        deliver(message.room, state, frame_of(message.room, state.epoch, message.entry),
                message.entry.seq, "", now_ms, &wake, nullptr);
    }
    maybe_fill(message.room, state);
    return wake;
}

void RoomRegistry::resubscribed() {
    for (auto& [name, state] : rooms_) {
        state.tracker.suspect_gap();
        maybe_fill(name, state);
    }
}

std::vector<SessionId> RoomRegistry::fetch_failed(const std::string& room, bool load,
                                                  const Error& error) {
    std::vector<SessionId> wake;
    auto in = rooms_.find(room);
    if (in == rooms_.end()) return wake;
    Room& state = in->second;
    if (!load) {
        state.tracker.fill_failed();
        return wake;
    }
    if (state.tracker.is_loaded()) return wake;
    FramePtr refusal = make_frame(encode_ws_error(
        make_error("room_unavailable",
                   "room " + room + " cannot be loaded from Redis: " + error.message),
        room));
    for (const auto& [id, request] : state.parked) {
        Session* session = find(id);
        if (session == nullptr) continue;
        session->rooms().erase(room);
        send(id, refusal);
        wake.push_back(id);
    }
    state.parked.clear();
    erase_if_unused(room);
    return wake;
}

void RoomRegistry::maybe_fill(const std::string& room, Room& state) {
    if (fetcher_ && state.tracker.start_fill()) fetcher_(room, state.tracker.delivered());
}

}  // namespace rp::sidecar

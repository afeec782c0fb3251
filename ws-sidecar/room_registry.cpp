#include "room_registry.h"

#include <algorithm>
#include <cstdio>

#include "ws_codec.h"

namespace rp::sidecar {

RoomRegistry::RoomRegistry(RegistryLimits limits)
    : limits_(limits), epoch_random_(std::random_device{}()) {}

SessionId RoomRegistry::add_session(std::string peer) {
    SessionId id = next_id_++;
    sessions_.emplace(id, std::make_unique<Session>(id, std::move(peer), limits_.max_queue_bytes));
    return id;
}

void RoomRegistry::remove_session(SessionId id) {
    auto found = sessions_.find(id);
    if (found == sessions_.end()) return;
    for (const std::string& room : found->second->rooms()) {
        auto in = rooms_.find(room);
        if (in == rooms_.end()) continue;
        in->second.members.erase(id);
        erase_if_empty(room);
    }
    sessions_.erase(found);
}

Session* RoomRegistry::find(SessionId id) {
    auto found = sessions_.find(id);
    return found == sessions_.end() ? nullptr : found->second.get();
}

std::vector<SessionId> RoomRegistry::session_ids() const {
    std::vector<SessionId> ids;
    ids.reserve(sessions_.size());
    for (const auto& [id, session] : sessions_) ids.push_back(id);
    return ids;
}

Result<JoinInfo> RoomRegistry::join(SessionId id, const std::string& room) {
    Session* session = find(id);
    if (session == nullptr) return make_error("no_session", "session is gone");
    if (!session->rooms().contains(room) &&
        session->rooms().size() >= limits_.max_rooms_per_session) {
        return make_error("too_many_rooms", "a connection may join at most " +
                                                std::to_string(limits_.max_rooms_per_session) +
                                                " rooms");
    }
    Room& state = room_for(room);
    state.members.insert(id);
    session->rooms().insert(room);
    return JoinInfo{state.seq, state.epoch};
}

bool RoomRegistry::leave(SessionId id, const std::string& room) {
    Session* session = find(id);
    if (session == nullptr || session->rooms().erase(room) == 0) return false;
    auto in = rooms_.find(room);
    if (in != rooms_.end()) {
        in->second.members.erase(id);
        erase_if_empty(room);
    }
    return true;
}

PublishOutcome RoomRegistry::publish(const std::string& room, std::string_view event,
                                     const cJSON* data, int64_t now_ms) {
    Room& state = room_for(room);
    PublishOutcome outcome;
    outcome.seq = ++state.seq;
    FramePtr frame = make_frame(encode_message({room, outcome.seq, state.epoch, event, data, now_ms}));
    outcome.wake.reserve(state.members.size());
    for (SessionId member : state.members) {
        Session* session = find(member);
        if (session == nullptr) continue;
        if (session->enqueue(frame) == SendResult::queued) ++outcome.delivered;
        outcome.wake.push_back(member);
    }
    erase_if_empty(room);
    return outcome;
}

SendResult RoomRegistry::send(SessionId id, FramePtr frame) {
    Session* session = find(id);
    if (session == nullptr) return SendResult::dropped;
    return session->enqueue(std::move(frame));
}

std::vector<RoomSummary> RoomRegistry::summaries() const {
    std::vector<RoomSummary> out;
    out.reserve(rooms_.size());
    for (const auto& [name, state] : rooms_) {
        out.push_back(RoomSummary{name, state.members.size(), state.seq, 0});
    }
    std::sort(out.begin(), out.end(),
              [](const RoomSummary& a, const RoomSummary& b) { return a.room < b.room; });
    return out;
}

RoomRegistry::Room& RoomRegistry::room_for(const std::string& room) {
    auto [it, created] = rooms_.try_emplace(room);
    if (created) it->second.epoch = new_epoch();
    return it->second;
}

// Without retained history a room that empties has nothing to resume from, so it starts afresh
// next time, under a new epoch: a client holding the old epoch learns it may have missed messages.
void RoomRegistry::erase_if_empty(const std::string& room) {
    auto it = rooms_.find(room);
    if (it != rooms_.end() && it->second.members.empty()) rooms_.erase(it);
}

std::string RoomRegistry::new_epoch() {
    char buffer[17];
    std::snprintf(buffer, sizeof buffer, "%016llx",
                  static_cast<unsigned long long>(epoch_random_()));
    return buffer;
}

}  // namespace rp::sidecar

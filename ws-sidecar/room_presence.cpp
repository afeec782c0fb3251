#include "room_presence.h"

#include "room_registry.h"
#include "ws_codec.h"

namespace rp::sidecar {

std::vector<SessionId> RoomPresence::others(const Room& state, SessionId except) {
    std::vector<SessionId> ids;
    ids.reserve(state.members.size());
    for (const auto& [id, member] : state.members) {
        if (id != except) ids.push_back(id);
    }
    return ids;
}

PresenceNotice RoomPresence::announce(const std::string& room, Room& state, SessionId about,
                                      const char* type, const std::string& member) {
    // A room at the bound still names who comes and goes (its count is what a page shows first);
    // only past it are the members counted instead.
    if (state.members.size() > max_announced_) {
        state.count_changed = true;
        return {};
    }
    return {others(state, about), encode_presence_change(type, room, member)};
}

PresenceNotice RoomPresence::join(const std::string& room, SessionId id, std::string member) {
    Room& state = rooms_[room];
    auto [at, added] = state.members.insert_or_assign(id, std::move(member));
    if (!added) return {};
    PresenceNotice notice = announce(room, state, id, "join", at->second);
    notice.member = at->second;
    return notice;
}

PresenceNotice RoomPresence::leave(const std::string& room, SessionId id) {
    auto in = rooms_.find(room);
    if (in == rooms_.end()) return {};
    Room& state = in->second;
    auto at = state.members.find(id);
    if (at == state.members.end()) return {};
    std::string member = std::move(at->second);
    bool was_counted = state.members.size() > max_announced_;
    state.members.erase(at);
    PresenceNotice notice;
    if (was_counted) {
        state.count_changed = true;
    } else {
        notice = {others(state, id), encode_presence_change("leave", room, member)};
    }
    notice.member = std::move(member);
    if (state.members.empty()) rooms_.erase(in);
    return notice;
}

bool RoomPresence::present(const std::string& room, SessionId id) const {
    auto in = rooms_.find(room);
    return in != rooms_.end() && in->second.members.contains(id);
}

const std::string* RoomPresence::member(const std::string& room, SessionId id) const {
    auto in = rooms_.find(room);
    if (in == rooms_.end()) return nullptr;
    auto at = in->second.members.find(id);
    return at == in->second.members.end() ? nullptr : &at->second;
}

std::string RoomPresence::answer(const std::string& room) const {
    std::vector<std::string_view> listed;
    auto in = rooms_.find(room);
    std::size_t count = in == rooms_.end() ? 0 : in->second.members.size();
    if (in != rooms_.end()) {
        for (const auto& [id, member] : in->second.members) {
            if (listed.size() == max_announced_) break;
            listed.push_back(member);
        }
    }
    return encode_presence(room, listed, count);
}

std::vector<std::string_view> RoomPresence::members(const std::string& room) const {
    std::vector<std::string_view> out;
    auto in = rooms_.find(room);
    if (in == rooms_.end()) return out;
    for (const auto& [id, member] : in->second.members) out.push_back(member);
    return out;
}

PresenceNotice RoomPresence::relay(const std::string& room, const std::string& type,
                                   const std::string& member) const {
    auto in = rooms_.find(room);
    if (in == rooms_.end() || in->second.members.size() > max_announced_) return {};
    return {others(in->second, 0), encode_presence_change(type, room, member)};
}

const std::vector<SessionId>& send_notice(RoomRegistry& registry, const PresenceNotice& notice) {
    if (!notice.to.empty()) {
        FramePtr frame = make_frame(notice.frame);
        for (SessionId to : notice.to) registry.send(to, frame);
    }
    return notice.to;
}

std::vector<PresenceNotice> RoomPresence::flush_counts() {
    std::vector<PresenceNotice> notices;
    for (auto& [room, state] : rooms_) {
        if (!state.count_changed) continue;
        state.count_changed = false;
        notices.push_back({others(state, 0), encode_presence_count(room, state.members.size())});
    }
    return notices;
}

}  // namespace rp::sidecar

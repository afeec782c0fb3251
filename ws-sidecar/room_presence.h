#pragma once
// Who is visibly in which room (docs/websocket.md, presence): the members whose token grants
// "presence" (or every member of an open room with --presence). Each joins and leaves in front of
// the room's other visible members; past `max_announced` of them a room announces its count
// instead, at most once per flush_counts() (the housekeeper's second), so that a room of 10,000
// does not send 10,000 frames for every arrival. Loop thread only; this sidecar's members only.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "session.h"

namespace rp::sidecar {

// A frame for some sessions.
struct PresenceNotice {
    std::vector<SessionId> to;
    std::string frame;
    std::string member;  // join and leave: who, when it changed anything (for the other nodes)
};

// Queues the notice's frame (one shared frame) for each of its sessions; returns them, to wake.
class RoomRegistry;
const std::vector<SessionId>& send_notice(RoomRegistry& registry, const PresenceNotice& notice);

class RoomPresence {
public:
    explicit RoomPresence(std::size_t max_announced) : max_announced_(max_announced) {}

    // `member`: the member's JSON object ({"conn","user","info"}). Joining again (a refreshed
    // token) updates it without a notice.
    PresenceNotice join(const std::string& room, SessionId id, std::string member);
    PresenceNotice leave(const std::string& room, SessionId id);
    bool present(const std::string& room, SessionId id) const;
    // The member's JSON object, or nullptr when it is not visible in the room.
    const std::string* member(const std::string& room, SessionId id) const;
    // The `presence` frame: the first `max_announced` members and the count.
    std::string answer(const std::string& room) const;
    // This node's visible members of the room, each a JSON object (for the cluster report).
    std::vector<std::string_view> members(const std::string& room) const;
    // Another node's member came or went: the notice for this node's visible members (none in
    // a room past the bound, which counts only its own).
    PresenceNotice relay(const std::string& room, const std::string& type,
                         const std::string& member) const;
    std::size_t max_announced() const { return max_announced_; }
    // A `presence_count` for every room past the bound whose count changed since the last call.
    std::vector<PresenceNotice> flush_counts();
    void set_max_announced(std::size_t max) { max_announced_ = max; }

private:
    struct Room {
        std::map<SessionId, std::string> members;  // answers list them by connection, oldest first
        bool count_changed = false;
    };
    PresenceNotice announce(const std::string& room, Room& state, SessionId about, const char* type,
                            const std::string& member);
    static std::vector<SessionId> others(const Room& state, SessionId except);

    std::unordered_map<std::string, Room> rooms_;
    std::size_t max_announced_;
};

}  // namespace rp::sidecar

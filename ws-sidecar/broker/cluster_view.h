#pragma once
// Membership across nodes (Redis broker): every node reports its rooms and members to Redis
// with a heartbeat and an expiry; `rooms` and `room` with {"cluster":true} merge the reports of
// the nodes alive now. A report is JSON:
//   {"node":N,"rooms":[{"room":R,"epoch":E,"seq":S,"retained":K,
//                       "members":[{"id","peer","since","queued_bytes"}],
//                       "present":[{"conn","user","info"}]}]}      (present: visible members)

#include <string>
#include <vector>

#include "room_presence.h"
#include "room_registry.h"

namespace rp::sidecar {

// A member as `room` answers and reports list it: {"id","peer","since","queued_bytes"} and, when
// it is visible in the room, "present": {"user","info"} (what presence tells about it).
JsonPtr member_entry(const std::string& room, const MemberInfo& member,
                     const RoomPresence* presence);

// Loop thread: this node's report.
std::string members_report(const std::string& node, const RoomRegistry& registry,
                           const RoomPresence& presence);

// The `rooms` response over every report: {room, members, seq, retained, nodes} per room.
std::string encode_cluster_rooms(const std::vector<std::string>& reports);
// The `room` response: members of every node, each with its "node".
std::string encode_cluster_room(const std::string& room, const std::vector<std::string>& reports);
// The `presence` frame over every node: `own`'s visible members as they are now (`mine`), the
// other nodes' from their reports; at most `max` named, the count of all.
std::string encode_cluster_presence(const std::string& room,
                                    const std::vector<std::string>& reports, const std::string& own,
                                    const std::vector<std::string_view>& mine, std::size_t max);

}  // namespace rp::sidecar

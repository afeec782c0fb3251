#pragma once
// Membership across nodes (Redis broker): every node reports its rooms and members to Redis
// with a heartbeat and an expiry; `rooms` and `room` with {"cluster":true} merge the reports of
// the nodes alive now. A report is JSON:
//   {"node":N,"rooms":[{"room":R,"epoch":E,"seq":S,"retained":K,
//                       "members":[{"id","peer","since","queued_bytes"}]}]}

#include <string>
#include <vector>

#include "room_registry.h"

namespace rp::sidecar {

// Loop thread: this node's report.
std::string members_report(const std::string& node, const RoomRegistry& registry);

// The `rooms` response over every report: {room, members, seq, retained, nodes} per room.
std::string encode_cluster_rooms(const std::vector<std::string>& reports);
// The `room` response: members of every node, each with its "node".
std::string encode_cluster_room(const std::string& room, const std::vector<std::string>& reports);

}  // namespace rp::sidecar

#pragma once
// What one Redis connection's server has been told already about the keys a publish touches, so
// that the publish script is not asked to check it again (redis_scripts.h, docs/scaling.md):
// each check is one more call inside the script, and Redis spends most of a publish's time
// around its calls, not in them.
//
// Flags of one publish, as the script reads them:
//   'n'  new: the key is a node-made idempotency key sent for the first time, so it cannot have
//        been recorded; the script skips looking it up. The pipeline drops the flag once the
//        publish has been written to a connection: a resend always looks.
//   'e'  expire the hash of node-made keys (room and minute): this node has not yet written to
//        it on this connection.
//   'r'  renew the room's TTLs: this node has not yet on this connection, or a tenth of the
//        room's TTL has passed since. (A room the script creates gets its TTLs regardless.)
// A publish's 'e' and 'r' count as told only once Redis has run it (not a repeat answered from
// its key, which returns before them): until then every publish to the room carries them, so a
// publish that fails leaves nothing unsaid for the ones after it. A new connection (a reconnect,
// a failover) starts with nothing told. A key deleted behind the node's back (an operator, an
// eviction policy) while its connection stays up can be made again by later publishes without
// a TTL, and stay (a minute's hash of node-made keys, a room's stream): the cost of not asking
// Redis on every publish.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rp::sidecar {

class PublishMarks {
public:
    // At most this many rooms are remembered; past it everything is forgotten (and each room's
    // next publish carries its flags again).
    static constexpr std::size_t kMaxRooms = 100000;

    explicit PublishMarks(int64_t room_ttl_s) : renew_every_ms_(room_ttl_s * 100) {}

    // The flags 'e' and 'r' for a publish to `room` at `now_ms` (a steady clock), whose
    // node-made keys live in `own_hash` ("" for a publish with the caller's own id).
    std::string flags(const std::string& room, std::string_view own_hash, int64_t now_ms) const;
    // Redis ran a publish with these flags, decided at `flagged_ms`.
    void told(const std::string& room, std::string_view own_hash, std::string_view flags,
              int64_t flagged_ms);
    void forget_all() { rooms_.clear(); }
    std::size_t size() const { return rooms_.size(); }

private:
    struct Told {
        int64_t renewed_ms;
        std::string own_hash;
    };
    int64_t renew_every_ms_;
    std::unordered_map<std::string, Told> rooms_;
};

// The flag 'n' is the first character of a publish's flags when it is present.
inline bool is_first_send(std::string_view flags) { return flags.starts_with('n'); }

}  // namespace rp::sidecar

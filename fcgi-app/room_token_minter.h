#pragma once
// The room token each 202 carries, signed with the current secret. The secret can change while
// requests are served (SIGHUP reads the secret file again, for key rotation), so it is read
// under a lock.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace rp::app {

class RoomTokenMinter {
public:
    RoomTokenMinter(std::string secret, unsigned ttl_s)
        : secret_(std::move(secret)), ttl_s_(ttl_s) {}

    // nullopt when no secret is configured (open rooms: no token).
    std::optional<std::string> mint(const std::string& room, int64_t now_s) const;
    void set_secret(std::string secret);

private:
    mutable std::mutex mutex_;
    std::string secret_;
    unsigned ttl_s_;
};

}  // namespace rp::app

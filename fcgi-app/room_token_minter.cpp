#include "room_token_minter.h"

#include "roompush/room_token.h"

namespace rp::app {

std::optional<std::string> RoomTokenMinter::mint(const std::string& room, int64_t now_s) const {
    std::lock_guard lock(mutex_);
    if (secret_.empty()) return std::nullopt;
    return mint_token(secret_, room, now_s + ttl_s_);
}

void RoomTokenMinter::set_secret(std::string secret) {
    std::lock_guard lock(mutex_);
    secret_ = std::move(secret);
}

}  // namespace rp::app

#include "publish_marks.h"

namespace rp::sidecar {

std::string PublishMarks::flags(const std::string& room, std::string_view own_hash,
                                int64_t now_ms) {
    if (rooms_.size() >= kMaxRooms && !rooms_.contains(room)) rooms_.clear();
    auto [told, is_new] = rooms_.try_emplace(room, Told{now_ms, std::string()});
    std::string flags;
    if (!own_hash.empty() && told->second.own_hash != own_hash) {
        flags += 'e';
        told->second.own_hash = own_hash;
    }
    if (is_new || now_ms - told->second.renewed_ms >= renew_every_ms_) {
        flags += 'r';
        told->second.renewed_ms = now_ms;
    }
    return flags;
}

}  // namespace rp::sidecar

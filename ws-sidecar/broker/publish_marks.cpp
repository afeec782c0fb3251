#include "publish_marks.h"

#include <limits>

namespace rp::sidecar {

std::string PublishMarks::flags(const std::string& room, std::string_view own_hash,
                                int64_t now_ms) const {
    auto told = rooms_.find(room);
    std::string flags;
    if (!own_hash.empty() && (told == rooms_.end() || told->second.own_hash != own_hash)) {
        flags += 'e';
    }
    if (told == rooms_.end() || now_ms - told->second.renewed_ms >= renew_every_ms_) {
        flags += 'r';
    }
    return flags;
}

void PublishMarks::told(const std::string& room, std::string_view own_hash, std::string_view flags,
                        int64_t flagged_ms) {
    if (rooms_.size() >= kMaxRooms && !rooms_.contains(room)) rooms_.clear();
    auto told =
        rooms_.try_emplace(room, Told{std::numeric_limits<int64_t>::min() / 2, std::string()})
            .first;
    if (flags.find('e') != std::string_view::npos) told->second.own_hash = own_hash;
    if (flags.find('r') != std::string_view::npos) told->second.renewed_ms = flagged_ms;
}

}  // namespace rp::sidecar

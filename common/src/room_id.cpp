#include "roompush/room_id.h"

#include <string>

namespace rp {
namespace {

bool is_room_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

}  // namespace

bool is_valid_room_id(std::string_view room) {
    if (room.empty() || room.size() > kMaxRoomIdLength) return false;
    for (char c : room) {
        if (!is_room_char(c)) return false;
    }
    return true;
}

Status check_room_id(std::string_view room) {
    if (room.empty()) return make_error("invalid_room", "room id is empty");
    if (room.size() > kMaxRoomIdLength) {
        return make_error("invalid_room", "room id is " + std::to_string(room.size()) +
                                              " bytes long; the limit is " +
                                              std::to_string(kMaxRoomIdLength));
    }
    for (char c : room) {
        if (!is_room_char(c)) {
            return make_error("invalid_room",
                              "room id may only contain A-Z a-z 0-9 . _ : - (1 to 128 characters)");
        }
    }
    return ok_status();
}

}  // namespace rp

#pragma once
// Room ids are the one identifier every entry point accepts from outside: one rule, one place.

#include <cstddef>
#include <string_view>

#include "roompush/error.h"

namespace rp {

inline constexpr std::size_t kMaxRoomIdLength = 128;

// [A-Za-z0-9._:-]{1,128}
bool is_valid_room_id(std::string_view room);

// ok, or Error{"invalid_room", ...} that says which rule the id broke.
Status check_room_id(std::string_view room);

}  // namespace rp

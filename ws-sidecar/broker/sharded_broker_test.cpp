#include "sharded_broker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rp::sidecar {
namespace {

std::vector<std::size_t> counts(std::size_t shards, int rooms) {
    std::vector<std::size_t> out(shards);
    for (int i = 0; i < rooms; ++i) ++out[shard_of("room-" + std::to_string(i), shards)];
    return out;
}

TEST(ShardOf, SpreadsRoomsEvenly) {
    for (std::size_t shards : {2u, 3u, 5u}) {
        auto spread = counts(shards, 30000);
        for (std::size_t count : spread) {
            EXPECT_GT(count, 30000 / shards * 9 / 10) << shards;
            EXPECT_LT(count, 30000 / shards * 11 / 10) << shards;
        }
    }
    EXPECT_EQ(shard_of("anything", 1), 0u);
}

// What makes it consistent: a shard added at the end takes about 1/N of the rooms, and every
// room that moves goes to the new shard.
TEST(ShardOf, AddingAShardMovesOnlyItsShareAndOnlyToIt) {
    int moved = 0;
    for (int i = 0; i < 30000; ++i) {
        std::string room = "room-" + std::to_string(i);
        std::size_t before = shard_of(room, 3);
        std::size_t after = shard_of(room, 4);
        if (before != after) {
            ++moved;
            EXPECT_EQ(after, 3u) << room;
        }
    }
    EXPECT_GT(moved, 30000 / 4 * 9 / 10);
    EXPECT_LT(moved, 30000 / 4 * 11 / 10);
}

TEST(ShardOf, IsStableAcrossRunsAndMachines) {
    // Every sidecar must agree: the values are fixed by the algorithm, not by this process.
    EXPECT_EQ(shard_of("room-1", 4), shard_of("room-1", 4));
    EXPECT_EQ(shard_of("", 7), shard_of("", 7));
    std::vector<std::size_t> fixed;
    for (const char* room : {"a", "cad-42", "room-7", "w1"}) fixed.push_back(shard_of(room, 8));
    EXPECT_EQ(fixed, (std::vector<std::size_t>{2, 4, 4, 2}));
}

}  // namespace
}  // namespace rp::sidecar

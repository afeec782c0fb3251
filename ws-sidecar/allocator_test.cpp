#include "allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#ifdef ROOMPUSH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace rp::sidecar {
namespace {

#ifdef ROOMPUSH_JEMALLOC

TEST(Allocator, NamesJemallocWhenItServesMalloc) {
    EXPECT_TRUE(allocator_name().starts_with("jemalloc-5.")) << allocator_name();
}

std::size_t dirty_pages() {
    uint64_t epoch = 1;
    std::size_t size = sizeof(epoch);
    mallctl("epoch", &epoch, &size, &epoch, size);  // the statistics are refreshed on demand
    std::size_t pages = 0;
    size = sizeof(pages);
    std::string every_arena = "stats.arenas." + std::to_string(MALLCTL_ARENAS_ALL) + ".pdirty";
    EXPECT_EQ(mallctl(every_arena.c_str(), &pages, &size, nullptr, 0), 0);
    return pages;
}

TEST(Allocator, ReleasingFreeMemoryLeavesNoDirtyPages) {
    // Through volatile pointers, so that the compiler keeps the pairs; 64 KiB passes any cache.
    void* volatile blocks[512];
    for (auto& block : blocks) block = std::malloc(64 * 1024);
    for (auto& block : blocks) std::free(block);
    ASSERT_GT(dirty_pages(), 0u) << "freed pages stay dirty until they decay or are purged";
    release_free_memory();
    EXPECT_EQ(dirty_pages(), 0u);
}

#else

TEST(Allocator, NamesGlibcWithoutJemalloc) { EXPECT_EQ(allocator_name(), "glibc"); }

#endif

}  // namespace
}  // namespace rp::sidecar

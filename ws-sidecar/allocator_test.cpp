#include "allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

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
    EXPECT_EQ(mallctl("stats.arenas.4096.pdirty", &pages, &size, nullptr, 0), 0);
    return pages;
}

TEST(Allocator, ReleasingFreeMemoryLeavesNoDirtyPages) {
    std::vector<void*> blocks;
    for (int i = 0; i < 512; ++i) blocks.push_back(std::malloc(64 * 1024));  // past any cache
    for (void* block : blocks) std::free(block);
    ASSERT_GT(dirty_pages(), 0u) << "freed pages stay dirty until they decay or are purged";
    release_free_memory();
    EXPECT_EQ(dirty_pages(), 0u);
}

#else

TEST(Allocator, NamesGlibcWithoutJemalloc) { EXPECT_EQ(allocator_name(), "glibc"); }

#endif

}  // namespace
}  // namespace rp::sidecar

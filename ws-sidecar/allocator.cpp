#include "allocator.h"

#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "roompush/log.h"

#ifdef ROOMPUSH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace rp::sidecar {

#ifdef ROOMPUSH_JEMALLOC
namespace {

uint64_t allocated_by_this_thread() {
    uint64_t bytes = 0;
    std::size_t size = sizeof(bytes);
    if (mallctl("thread.allocated", &bytes, &size, nullptr, 0) != 0) return 0;
    return bytes;
}

// Linked is not enough: malloc must resolve to jemalloc's (not so under an LD_PRELOAD of another
// allocator, or valgrind), which its counter then shows.
bool probe_malloc() {
    uint64_t before = allocated_by_this_thread();
    void* probe = std::malloc(4096);
    // The compiler may not drop the pair: the pointer escapes into a volatile.
    void* volatile kept = probe;
    bool counted = allocated_by_this_thread() > before;
    std::free(kept);
    return counted;
}

bool jemalloc_serves_malloc() {
    static const bool serves = probe_malloc();
    return serves;
}

}  // namespace

std::string allocator_name() {
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (!jemalloc_serves_malloc() || mallctl("version", &version, &size, nullptr, 0) != 0) {
        return "glibc";
    }
    std::string name = version;
    return "jemalloc-" + name.substr(0, name.find('-'));
}

void release_free_memory() {
    if (!jemalloc_serves_malloc()) {
        ::malloc_trim(0);
        return;
    }
    // Every arena's unused dirty pages, as malloc_trim does for glibc's heap.
    static const std::string every_arena = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
    if (int failed = mallctl(every_arena.c_str(), nullptr, nullptr, nullptr, 0); failed != 0) {
        static bool said = false;  // the loop's thread only
        if (!said) {
            log_warn("heap_purge_failed")
                .kv("mallctl", every_arena)
                .kv("errno", failed)
                .kv("error", std::strerror(failed));
        }
        said = true;
    }
}

#else

std::string allocator_name() { return "glibc"; }

void release_free_memory() { ::malloc_trim(0); }

#endif

}  // namespace rp::sidecar

#include "disk_io.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace rp::app {
namespace {

std::atomic<uint64_t> syncs{0};

}  // namespace

Status write_file(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return make_error("write_failed", std::string("write: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
    return ok_status();
}

bool sync_file(int fd) {
    syncs.fetch_add(1, std::memory_order_relaxed);
    return ::fsync(fd) == 0;
}

bool sync_data(int fd) {
    syncs.fetch_add(1, std::memory_order_relaxed);
    return ::fdatasync(fd) == 0;
}

bool sync_file_system(int fd) {
    syncs.fetch_add(1, std::memory_order_relaxed);
    return ::syncfs(fd) == 0;
}

uint64_t file_syncs() { return syncs.load(std::memory_order_relaxed); }

}  // namespace rp::app

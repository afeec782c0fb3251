#include "recv_guard.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string_view>
#include <unordered_map>

#include "client_frame_scanner.h"
#include "roompush/log.h"

namespace rp::sidecar::recv_guard {
namespace {

thread_local bool on_loop_thread = false;
// The loop thread's alone: no lock.
std::unordered_map<int, ClientFrameScanner>* watched = nullptr;
std::atomic<uint64_t>* refused_count = nullptr;

// The client broke the masking rule: one line, a count, and a read that failed.
ssize_t refuse(int fd) {
    watched->erase(fd);
    if (refused_count != nullptr) (*refused_count)++;
    log_warn("ws_unmasked_frame").kv("fd", fd).kv("close", "connection failed, RFC 6455 5.1");
    errno = ECONNRESET;
    return -1;
}

}  // namespace

void start_on_this_thread(std::atomic<uint64_t>& refused) {
    static std::unordered_map<int, ClientFrameScanner> scanners;
    watched = &scanners;
    refused_count = &refused;
    on_loop_thread = true;
}

void watch(int fd) {
    if (on_loop_thread && fd >= 0) (*watched)[fd] = ClientFrameScanner{};
}

void forget(int fd) {
    if (on_loop_thread) watched->erase(fd);
}

// The read itself, as libc's recv() makes it.
ssize_t read_socket(int fd, void* buffer, size_t length, int flags) {
    return ::syscall(SYS_recvfrom, fd, buffer, length, flags, nullptr, nullptr);
}

ssize_t guarded_recv(int fd, void* buffer, size_t length, int flags) {
    ssize_t got = read_socket(fd, buffer, length, flags);
    if (got <= 0 || !on_loop_thread || (flags & MSG_PEEK) != 0) return got;
    auto scanner = watched->find(fd);
    if (scanner == watched->end()) return got;
    std::string_view bytes(static_cast<const char*>(buffer), static_cast<size_t>(got));
    return scanner->second.feed(bytes) ? got : refuse(fd);
}

}  // namespace rp::sidecar::recv_guard

// The recv() calls of the libraries the sidecar links (libwebsockets', hiredis') come here (libc's
// own callers use its internal alias); only the loop thread's reads of watched sockets are looked
// at. In the sanitizer build this recv() also stands before ASan's, which then no longer checks
// the buffers lws reads into.
extern "C" __attribute__((visibility("default"))) ssize_t recv(int fd, void* buffer, size_t length,
                                                               int flags) {
    return rp::sidecar::recv_guard::guarded_recv(fd, buffer, length, flags);
}

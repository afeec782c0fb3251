#pragma once
// Unix-domain stream sockets: the one transport between roompush's own processes.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp {

// Owns a file descriptor; closes it once.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// Connects; Error("connect_failed") names the path and the reason.
Result<UniqueFd> connect_unix(const std::string& path);

// Binds and listens. A stale socket file nobody listens on is replaced; a live one is an error
// ("address_in_use") so that two daemons never fight over one path. `mode` is applied with chmod.
Result<UniqueFd> listen_unix(const std::string& path, mode_t mode, int backlog);

// Makes `path` free for a new listener: a stale socket file nobody listens on is removed; a live
// one, or a file that is not a socket, is an error ("address_in_use").
Status claim_socket_path(const std::string& path);

// Refuses a path that does not fit in sockaddr_un.
Status check_socket_path(const std::string& path);

// Writes everything, retrying on EINTR and short writes.
Status write_all(int fd, std::string_view bytes);

}  // namespace rp

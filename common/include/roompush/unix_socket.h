#pragma once
// Unix-domain stream sockets: the one transport between roompush's own processes.

#include <sys/types.h>

#include <optional>
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

// Who may connect to a listening socket: its file mode and, when set, the group it is given.
// The group lets a socket reach exactly one other service (nginx's www-data) without that
// service joining ours; the owner must be a member of it (systemd: SupplementaryGroups=).
struct SocketAccess {
    mode_t mode = 0660;
    std::optional<gid_t> group;
};

// A group name or a numeric gid; Error("unknown_group") when neither names a group.
Result<gid_t> lookup_group(const std::string& name_or_gid);

// Applies `access` to an existing socket file (chown of the group only, then chmod).
Status set_socket_access(const std::string& path, const SocketAccess& access);

// True when a listener accepts connections at `path` right now.
bool accepts_connections(const std::string& path);

// Connects; Error("connect_failed") names the path and the reason.
Result<UniqueFd> connect_unix(const std::string& path);

// Binds and listens. A stale socket file nobody listens on is replaced; a live one is an error
// ("address_in_use") so that two daemons never fight over one path. `access` is applied before
// listen(), so no peer ever connects under looser rules.
Result<UniqueFd> listen_unix(const std::string& path, const SocketAccess& access, int backlog);

// Makes `path` free for a new listener: a stale socket file nobody listens on is removed; a live
// one, or a file that is not a socket, is an error ("address_in_use").
Status claim_socket_path(const std::string& path);

// Refuses a path that does not fit in sockaddr_un.
Status check_socket_path(const std::string& path);

// Writes everything, retrying on EINTR and short writes.
Status write_all(int fd, std::string_view bytes);

}  // namespace rp

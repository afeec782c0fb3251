#include "roompush/unix_socket.h"

#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace rp {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

sockaddr_un make_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

}  // namespace

bool accepts_connections(const std::string& path) {
    if (!check_socket_path(path)) return false;
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid()) return false;
    sockaddr_un address = make_address(path);
    return ::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

Result<gid_t> lookup_group(const std::string& name_or_gid) {
    unsigned long number = 0;
    const char* end = name_or_gid.data() + name_or_gid.size();
    auto [stop, failure] = std::from_chars(name_or_gid.data(), end, number);
    if (!name_or_gid.empty() && failure == std::errc() && stop == end) {
        if (number >= static_cast<unsigned long>(static_cast<gid_t>(-1))) {
            return make_error("unknown_group", "group id " + name_or_gid + " is out of range");
        }
        return static_cast<gid_t>(number);
    }
    group entry{};
    group* found = nullptr;
    std::vector<char> buffer(16384);
    int rc = ::getgrnam_r(name_or_gid.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0 || found == nullptr) {
        return make_error("unknown_group", "no group named \"" + name_or_gid + "\" on this system");
    }
    return found->gr_gid;
}

Status set_socket_access(const std::string& path, const SocketAccess& access) {
    if (access.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *access.group) != 0) {
        return make_error(
            "listen_failed",
            "chgrp " + std::to_string(*access.group) + " " + path + ": " + errno_text(errno) +
                (errno == EPERM ? " (this process must be a member of the group)" : ""));
    }
    if (::chmod(path.c_str(), access.mode) != 0) {
        return make_error("listen_failed", "chmod " + path + ": " + errno_text(errno));
    }
    return ok_status();
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Status check_socket_path(const std::string& path) {
    if (path.empty()) return make_error("bad_socket_path", "socket path is empty");
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        return make_error("bad_socket_path",
                          "socket path " + path + " is longer than " +
                              std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                              " bytes; choose a shorter directory");
    }
    return ok_status();
}

Result<UniqueFd> connect_unix(const std::string& path) {
    if (auto valid = check_socket_path(path); !valid) return valid.error();
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return make_error("connect_failed", "socket(): " + errno_text(errno));
    sockaddr_un address = make_address(path);
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        return make_error("connect_failed", "cannot connect to " + path + ": " + errno_text(errno));
    }
    return fd;
}

Status claim_socket_path(const std::string& path) {
    if (auto valid = check_socket_path(path); !valid) return valid.error();
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) return ok_status();
    if (!S_ISSOCK(info.st_mode)) {
        return make_error("address_in_use", path + " exists and is not a socket");
    }
    if (accepts_connections(path)) {
        return make_error("address_in_use", "another process already listens on " + path);
    }
    ::unlink(path.c_str());
    return ok_status();
}

Result<UniqueFd> listen_unix(const std::string& path, const SocketAccess& access, int backlog) {
    if (auto claimed = claim_socket_path(path); !claimed) return claimed.error();
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return make_error("listen_failed", "socket(): " + errno_text(errno));
    sockaddr_un address = make_address(path);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        return make_error("listen_failed", "bind " + path + ": " + errno_text(errno));
    }
    if (auto applied = set_socket_access(path, access); !applied) return applied.error();
    if (::listen(fd.get(), backlog) != 0) {
        return make_error("listen_failed", "listen " + path + ": " + errno_text(errno));
    }
    return fd;
}

Status write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t written = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (written < 0 && errno == ENOTSOCK) written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return make_error("write_failed", "write: " + errno_text(errno));
        }
        bytes.remove_prefix(static_cast<size_t>(written));
    }
    return ok_status();
}

}  // namespace rp

#include "outbox.h"

#include "disk_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "roompush/log.h"
#include "roompush/unix_socket.h"

namespace rp::app {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSuffix = ".push";
constexpr std::size_t kDigits = 20;  // every uint64_t, so names sort as numbers do

Error outbox_error(const std::string& what, const std::string& path) {
    return make_error("outbox_error", what + " " + path + ": " + std::strerror(errno));
}

// "00000000000000000042.push" -> 42; 0 for anything else (entries start at 1).
uint64_t entry_number(const std::string& name) {
    if (name.size() != kDigits + kSuffix.size() ||
        name.compare(kDigits, kSuffix.size(), kSuffix) != 0) {
        return 0;
    }
    uint64_t value = 0;
    for (std::size_t i = 0; i < kDigits; ++i) {
        if (name[i] < '0' || name[i] > '9') return 0;
        value = value * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    return value;
}

// A rename is durable only once the directory that holds it is on disk as well.
Status sync_dir(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || !sync_file(fd.get())) return outbox_error("fsync", dir);
    return ok_status();
}

}  // namespace

std::string Outbox::path_of(uint64_t entry) const {
    char name[kDigits + 1];
    std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(entry));
    return dir_ + "/" + name + std::string(kSuffix);
}

Status Outbox::open() {
    std::error_code error;
    fs::create_directories(dir_, error);
    if (error) return make_error("outbox_error", "cannot create " + dir_ + ": " + error.message());
    std::vector<uint64_t> found;
    for (const auto& item : fs::directory_iterator(dir_, error)) {
        std::string name = item.path().filename().string();
        if (uint64_t number = entry_number(name)) {
            found.push_back(number);
        } else {
            // A temporary file of an append the app did not finish: that push was never
            // acknowledged to anyone, so dropping it loses nothing that was promised.
            std::error_code ignored;
            fs::remove(item.path(), ignored);
        }
    }
    if (error) return make_error("outbox_error", "cannot list " + dir_ + ": " + error.message());
    std::sort(found.begin(), found.end());
    entries_.assign(found.begin(), found.end());
    next_ = found.empty() ? 1 : found.back() + 1;
    return ok_status();
}

Result<uint64_t> Outbox::append(std::string_view line) {
    uint64_t entry = next_;
    std::string path = path_of(entry);
    std::string temporary = path + ".tmp";
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd.valid()) return outbox_error("open", temporary);
    std::string framed(line);
    framed.push_back('\n');
    if (!write_file(fd.get(), framed) || !sync_file(fd.get())) {
        Error failed = outbox_error("write", temporary);
        ::unlink(temporary.c_str());
        return failed;
    }
    fd.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        Error failed = outbox_error("rename", path);
        ::unlink(temporary.c_str());
        return failed;
    }
    if (auto synced = sync_dir(dir_); !synced) return synced.error();
    ++next_;
    entries_.push_back(entry);
    return entry;
}

Result<std::string> Outbox::read(uint64_t entry) const {
    std::string path = path_of(entry);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return outbox_error("open", path);
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return outbox_error("read", path);
        if (got == 0) break;
        text.append(buffer, static_cast<std::size_t>(got));
    }
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

void Outbox::pop_front() {
    std::string path = path_of(entries_.front());
    entries_.pop_front();
    // A file that cannot be removed is sent again after a restart; its idempotency key makes
    // the sidecar ack it without delivering it twice.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        log_error("outbox_unlink_failed").kv("path", path).kv("error", std::strerror(errno));
    }
}

}  // namespace rp::app
